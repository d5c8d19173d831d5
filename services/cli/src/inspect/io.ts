/** Where a command writes: stdout for results, stderr for messages. Tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Exit codes: 0 done, 1 failed (Redis, unknown key), 2 wrong usage (unknown command, pool or flag). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Splits `--json` (the only flag) from positional arguments; any other flag is a usage error. */
export function parseFlags(args: readonly string[]): {
  json: boolean;
  positional: string[];
  unknown: string[];
} {
  const positional: string[] = [];
  const unknown: string[] = [];
  let json = false;
  for (const arg of args) {
    if (arg === '--json') json = true;
    else if (arg.startsWith('-')) unknown.push(arg);
    else positional.push(arg);
  }
  return { json, positional, unknown };
}
