import { RotorError } from './errors';

export interface ConfigIssue {
  /** `pools.openai.baseUrl`, `pools.openai.keys[2].weight`, `routes["/v1"]`; '' for the whole file. */
  path: string;
  message: string;
}

/**
 * A config that cannot be used. The message lists every problem, one `path: message` per line, so a
 * failed start says everything at once. It never contains a key secret or token.
 */
export class ConfigError extends RotorError {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], options: { cause?: unknown } = {}) {
    super(
      'bad_config',
      issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('\n'),
      options,
    );
    this.issues = issues;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Dotted path for plain names, `[n]` for list items, `["/v1"]` for anything else (route prefixes). */
export function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((step, i) => {
      if (typeof step === 'number') return `[${step}]`;
      if (IDENTIFIER.test(step)) return i === 0 ? step : `.${step}`;
      return `[${JSON.stringify(step)}]`;
    })
    .join('');
}

/**
 * Last line of defence: replace every known secret in a message. Messages are written never to quote a
 * value, but a secret pasted into the wrong field (a pool name, a route) would otherwise be echoed.
 */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
