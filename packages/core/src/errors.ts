/**
 * Rotor's one error type. `code` is stable (logs, metrics, tests switch on it); `httpStatus` is what the
 * client gets; `operational` separates expected conditions (bad token, all keys cooling, Redis down) from
 * bugs, so the error middleware knows whether to log a stack and the process whether to keep running.
 */
export const ROTOR_ERROR_STATUS = {
  /** The path climbs out of its route's prefix (dot segments). */
  bad_path: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  keys_exhausted: 429,
  /** Every key of the pool is suspended or disabled: nothing returns by itself. */
  no_usable_keys: 503,
  upstream_unreachable: 502,
  redis_unavailable: 503,
  upstream_timeout: 504,
  bad_config: 500,
  internal: 500,
} as const;

export type RotorErrorCode = keyof typeof ROTOR_ERROR_STATUS;

export interface RotorErrorOptions {
  /** For `keys_exhausted`: when the earliest key returns; becomes the `Retry-After` header. */
  retryAfterMs?: number;
  /** Defaults to true for every code but `internal`. */
  operational?: boolean;
  cause?: unknown;
}

export class RotorError extends Error {
  override readonly name: string = 'RotorError';
  readonly code: RotorErrorCode;
  readonly httpStatus: number;
  readonly operational: boolean;
  declare readonly retryAfterMs?: number; // declared only: absent, not `undefined`, when not given

  constructor(code: RotorErrorCode, message: string, options: RotorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.httpStatus = ROTOR_ERROR_STATUS[code];
    this.operational = options.operational ?? code !== 'internal';
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function rotorError(code: RotorErrorCode, message: string, extra?: RotorErrorOptions): RotorError {
  return new RotorError(code, message, extra);
}

export function isRotorError(value: unknown): value is RotorError {
  return value instanceof RotorError;
}
