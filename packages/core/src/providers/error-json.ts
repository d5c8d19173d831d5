/** Reading provider error bodies defensively: they may be truncated, not JSON, or not the documented shape. */

export function parseJson(body: string | undefined): unknown {
  if (!body) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined; // truncated at the read limit, HTML from a gateway, ...
  }
}

/** `field(obj, 'error', 'code')`: walks plain objects and arrays, undefined as soon as a step is missing. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

export function stringField(value: unknown, ...path: (string | number)[]): string | undefined {
  const found = field(value, ...path);
  if (typeof found === 'string') return found;
  if (typeof found === 'number') return String(found);
  return undefined;
}

const SAFE_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * An error code/type fit to store in Redis and use as a metric label: a short identifier. Free text is
 * refused, because provider messages can quote part of the key (`Incorrect API key provided: sk-ab***yz`).
 */
export function safeErrorCode(...candidates: (string | undefined)[]): string | undefined {
  return candidates.find((c): c is string => c !== undefined && SAFE_CODE.test(c));
}
