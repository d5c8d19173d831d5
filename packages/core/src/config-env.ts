/**
 * `${VAR}` / `${VAR:-default}` expansion over every string value of the raw YAML tree. The environment
 * is passed in (nothing here reads process.env) and expansion is single pass: a value that came from the
 * environment is never expanded again, so a secret containing `${` stays as it is. `$${` is a literal `${`.
 *
 * An empty string after expansion (or a YAML null) means "not set": it is removed from objects (so defaults apply and
 * required fields say so) and dropped from lists (`clientTokens: ["${A}", "${B}"]` with B unset).
 */

export type Env = Record<string, string | undefined>;
export type ConfigPath = (string | number)[];

export interface Expanded {
  value: unknown;
  /** Variables that were referenced but unset, by the path of the value that used them. */
  unsetVars: { path: ConfigPath; names: string[] }[];
}

const REFERENCE = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandEnv(raw: unknown, env: Env): Expanded {
  const unsetVars: Expanded['unsetVars'] = [];

  const expandString = (text: string, path: ConfigPath): string => {
    const unset: string[] = [];
    const out = text.replace(
      REFERENCE,
      (whole, escaped: string | undefined, name: string, fallback?: string) => {
        if (escaped) return whole.slice(1);
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        unset.push(name);
        return '';
      },
    );
    if (unset.length > 0) unsetVars.push({ path, names: unset });
    return out.trim();
  };

  const walk = (node: unknown, path: ConfigPath): unknown => {
    if (typeof node === 'string') {
      const s = expandString(node, path);
      return s === '' ? undefined : s;
    }
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (const item of node) {
        const recorded = unsetVars.length;
        // Indexed by position in the kept list: that is the index validation will report.
        const expanded = walk(item, [...path, out.length]);
        if (expanded !== undefined) out.push(expanded);
        else unsetVars.splice(recorded); // a dropped item is "not set" on purpose: nothing to report
      }
      return out;
    }
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        const expanded = walk(v, [...path, k]);
        if (expanded !== undefined) out[k] = expanded;
      }
      return out;
    }
    return node === null ? undefined : node; // YAML `field:` with nothing after it: not set
  };

  return { value: walk(raw, []), unsetVars };
}
