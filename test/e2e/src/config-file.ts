import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

export type RawConfig = Record<string, unknown> & { redis: Record<string, unknown>; pools: Record<string, Record<string, unknown>> };

/** A copy of a topology's config file, changed by `change`, next to it; returns its path. */
export function configVariant(file: string, name: string, change: (config: RawConfig) => void): string {
  const config = parse(fs.readFileSync(file, 'utf8')) as RawConfig;
  change(config);
  const out = path.join(path.dirname(file), `${name}.yaml`);
  fs.writeFileSync(out, stringify(config));
  return out;
}
