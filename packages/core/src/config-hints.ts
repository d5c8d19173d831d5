import { z } from 'zod';

/**
 * What turns a config error into a pointer at the fix: the fields a section knows (for "did you mean"),
 * the nearest of them to a misspelt one, and a YAML excerpt with a caret under the error's column
 * that never shows a value (a value may be a key).
 */

/** The field names of the object schema at `path` (record and list steps pass through), else []. */
export function knownFields(schema: z.ZodTypeAny, path: readonly (string | number)[]): string[] {
  let node: z.ZodTypeAny | undefined = unwrap(schema);
  for (const step of path) {
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodTypeAny>)[String(step)];
    else if (node instanceof z.ZodRecord) node = node.valueSchema as z.ZodTypeAny;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodTypeAny;
    else return [];
    node = node && unwrap(node);
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape as object) : [];
}

/** Through preprocess / refine / optional / default wrappers to the schema that holds the shape. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let node = schema;
  for (;;) {
    if (node instanceof z.ZodEffects) node = node.innerType() as z.ZodTypeAny;
    else if (node instanceof z.ZodOptional || node instanceof z.ZodNullable) node = node.unwrap() as z.ZodTypeAny;
    else if (node instanceof z.ZodDefault) node = node.removeDefault() as z.ZodTypeAny;
    else return node;
  }
}

/** The candidate nearest to `word` if it is a plausible slip (case, a letter or two, a missing s). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best && best.distance <= allowed ? best.name : undefined;
}

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`: `prot` is one swap from `port`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Lines `line - 1` and `line` of `text` (1-based) with a caret under `column`, like a compiler.
 * Every word of at least 6 characters that is not a field name in `keep` is masked with `*` of the
 * same length, so the caret stays in place and a key written on that line is never shown.
 */
export function yamlExcerpt(text: string, line: number, column: number, keep: ReadonlySet<string>): string {
  const lines = text.split(/\r?\n/);
  const first = Math.max(1, line - 1);
  const width = String(line).length;
  const out: string[] = [];
  for (let n = first; n <= line; n++) {
    const source = (lines[n - 1] ?? '').replace(/[\w.+/=-]{6,}/g, (word) => (keep.has(word) ? word : '*'.repeat(word.length)));
    out.push(`  ${String(n).padStart(width)} | ${source}`.trimEnd());
  }
  out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`);
  return out.join('\n');
}

/** Every field name the schema knows, at any depth (the words a YAML excerpt may show). */
export function allFieldNames(schema: z.ZodTypeAny): Set<string> {
  const names = new Set<string>();
  const walk = (node: z.ZodTypeAny, depth: number): void => {
    const inner = unwrap(node);
    if (depth > 8) return;
    if (inner instanceof z.ZodObject) {
      for (const [name, child] of Object.entries(inner.shape as Record<string, z.ZodTypeAny>)) {
        names.add(name);
        walk(child, depth + 1);
      }
    } else if (inner instanceof z.ZodRecord) walk(inner.valueSchema as z.ZodTypeAny, depth + 1);
    else if (inner instanceof z.ZodArray) walk(inner.element as z.ZodTypeAny, depth + 1);
  };
  walk(schema, 0);
  return names;
}
