/** Node's `IncomingHttpHeaders` shape: lower-case names, repeated headers as arrays. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** One header's value: the first when repeated, trimmed; undefined when absent or blank. */
export function headerValue(headers: HeaderMap | undefined, name: string): string | undefined {
  const raw = headers?.[name.toLowerCase()];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value ? value : undefined;
}
