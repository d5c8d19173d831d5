import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ZodIssue } from 'zod';
import { ConfigError, formatPath, redact, type ConfigIssue } from './config-error';
import { expandEnv, type ConfigPath, type Env } from './config-env';
import { configSchema } from './config-schema';
import { allFieldNames, closest, knownFields, yamlExcerpt } from './config-hints';
import { PROVIDER_KINDS } from './providers/provider';
import { resolve } from './config-resolve';
import type { RotorConfig } from './config-types';

/** Environment variables that override one config field each (the usual container knobs). */
const ENV_OVERRIDES: { name: string; path: [string, ...string[]] }[] = [
  { name: 'PORT', path: ['port'] },
  { name: 'REDIS_URL', path: ['redis', 'url'] },
  { name: 'METRICS_PORT', path: ['worker', 'metricsPort'] },
];

/**
 * Validate and resolve a raw config tree (parsed YAML). Pure: `env` is passed in. Throws ConfigError
 * listing every problem by field path.
 */
export function parseConfig(raw: unknown, env: Env): RotorConfig {
  const { value, unsetVars } = expandEnv(raw, env);
  const overridden = applyEnvOverrides(value, env);
  const secrets = collectSecrets(value);
  const result = configSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.flatMap((issue) => describeIssue(issue, unsetVars, overridden));
    throw new ConfigError(issues.map((i) => ({ path: redact(i.path, secrets), message: redact(i.message, secrets) })));
  }
  return resolve(result.data);
}

/** Read a YAML file and `parseConfig` it. The only I/O in @rotor/core. */
export function loadConfig(file: string, env: Env): RotorConfig {
  return parseConfig(readConfigFile(file), env);
}

/** The parsed YAML tree of a config file, before validation (what demo mode rewrites). */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([{ path: '', message: `cannot read config file ${file}: ${code}` }], {
      cause: err,
    });
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError([{ path: '', message: `${file}: ${describeYamlError(err, text)}` }]);
  }
}

/** Keys across all pools; 0 means the proxy runs in demo mode. */
export function totalKeys(config: RotorConfig): number {
  return Object.values(config.pools).reduce((sum, pool) => sum + pool.keys.length, 0);
}

/** Names of the pools that have no keys (only `optional: true` pools can be empty). */
export function keylessPools(config: RotorConfig): string[] {
  return Object.values(config.pools)
    .filter((pool) => pool.keys.length === 0)
    .map((pool) => pool.name);
}

// Words a YAML excerpt may show as they are: field names and provider kinds; longer words are masked.
const SHOWN_WORDS = new Set([...allFieldNames(configSchema), ...PROVIDER_KINDS]);

/**
 * YAML errors quote the offending source lines, which may hold a key: keep only the first line
 * ("Nested mappings are not allowed ... at line 3, column 7") and show the lines again with every
 * value word masked, a caret under the column.
 */
function describeYamlError(err: unknown, text: string): string {
  if (!(err instanceof Error)) return 'invalid YAML';
  const first = (err.message.split('\n')[0] ?? '').replace(/:\s*$/, '');
  const at = err instanceof YAMLParseError ? err.linePos?.[0] : undefined;
  return at ? `invalid YAML: ${first}\n${yamlExcerpt(text, at.line, at.col, SHOWN_WORDS)}` : `invalid YAML: ${first}`;
}

function applyEnvOverrides(value: unknown, env: Env): { path: ConfigPath; name: string }[] {
  if (!isObject(value)) return [];
  const applied: { path: ConfigPath; name: string }[] = [];
  for (const { name, path } of ENV_OVERRIDES) {
    const override = env[name]?.trim();
    if (!override) continue;
    let parent: Record<string, unknown> = value;
    for (const step of path.slice(0, -1)) {
      const child = parent[step] ?? {};
      if (!isObject(child)) break; // a wrong-typed section: let validation report it
      parent[step] = child;
      parent = child;
    }
    const leaf = path[path.length - 1] as string;
    parent[leaf] = override;
    applied.push({ path, name });
  }
  return applied;
}

function describeIssue(
  issue: ZodIssue,
  unsetVars: { path: ConfigPath; names: string[] }[],
  overridden: { path: ConfigPath; name: string }[],
): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    // One line per field, each with its full path, and the field it was probably meant to be.
    const known = knownFields(configSchema, issue.path);
    return issue.keys.map((key) => {
      const near = closest(key, known);
      return { path: formatPath([...issue.path, key]), message: `unknown field${near ? `; did you mean ${near}?` : ''}` };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_enum_value') message = `must be one of ${issue.options.join(', ')}`;
  if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    message = issue.path.length === 0 ? 'the config is empty' : 'Required';
  }
  const unset = unsetVars.filter((u) => isPrefix(u.path, issue.path)).flatMap((u) => u.names);
  if (unset.length > 0) {
    const names = [...new Set(unset)].map((n) => '${' + n + '}');
    message += ` (${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} not set)`;
  }
  const override = overridden.find((o) => isPrefix(o.path, issue.path));
  if (override) message += ` (from environment variable ${override.name})`;
  return [{ path: formatPath(issue.path), message }];
}

function isPrefix(prefix: ConfigPath, path: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((step, i) => step === path[i]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every string that may be a credential, so that no error message can echo one. */
function collectSecrets(value: unknown): string[] {
  if (!isObject(value)) return [];
  const found: string[] = [];
  const collect = (node: unknown): void => {
    if (typeof node === 'string') found.push(node, ...node.split(/[\s,]+/));
    else if (Array.isArray(node)) node.forEach(collect);
    else if (isObject(node)) Object.values(node).forEach(collect);
  };
  collect([value.clientTokens, value.adminToken, value.keyIdSecret]);
  if (isObject(value.pools))
    for (const pool of Object.values(value.pools)) if (isObject(pool)) collect(pool.keys);
  return found.filter(Boolean).sort((a, b) => b.length - a.length); // longest first: whole before parts
}
