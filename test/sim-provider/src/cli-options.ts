import { parseArgs } from 'node:util';
import type { KeyOptions, Limits, OrgOptions, SimOptions } from './types';

/**
 * Command-line flags → SimOptions, apart from main.ts so that the parsing is tested without a process.
 *
 *   --key secret[:rpm[:tpm]][@org[/project]]   a key (repeatable); with @org it draws on that organization
 *   --org name[:rpm[:tpm]]                     an organization's limits (repeatable)
 *   --model model:rpm[:tpm][@org]              per-model limits: for every organization, or for one (repeatable)
 *   --model-group group=model,model,...        models limited together under the group's name (repeatable)
 *
 * Model names may contain ':' (fine-tuned `ft:gpt-4o-mini:acme::id`), so rpm/tpm are read from the right.
 */

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

/** "name:rpm[:tpm]" → name and limits, numbers read from the right. */
function nameAndLimits(flag: string, spec: string, required: boolean): [string, Partial<Limits>] {
  const parts = spec.split(':');
  const numbers: string[] = [];
  while (numbers.length < 2 && parts.length > 1 && /^\d*$/.test(parts[parts.length - 1] ?? 'x')) numbers.unshift(parts.pop() ?? '');
  const name = parts.join(':');
  if (!name || (required && numbers.length === 0)) {
    throw new Error(`--${flag} must look like ${required ? 'name:rpm[:tpm]' : 'name[:rpm[:tpm]]'}, got "${spec}"`);
  }
  const [rpm, tpm] = numbers;
  const limits: Partial<Limits> = {};
  const parsedRpm = int(`${flag} rpm`, rpm || undefined);
  const parsedTpm = int(`${flag} tpm`, tpm || undefined);
  if (parsedRpm !== undefined) limits.rpm = parsedRpm;
  if (parsedTpm !== undefined) limits.tpm = parsedTpm;
  return [name, limits];
}

function parseKey(spec: string): [string, KeyOptions] {
  const at = spec.lastIndexOf('@');
  if (at < 0) {
    const [secret, limits] = nameAndLimits('key', spec, false);
    return [secret, limits];
  }
  const [secret, limits] = nameAndLimits('key', spec.slice(0, at), false);
  if (limits.rpm !== undefined || limits.tpm !== undefined) {
    throw new Error(`--key ${spec.slice(at)}: a key of an organization takes the organization's limits (use --org)`);
  }
  const [org, project] = spec.slice(at + 1).split('/');
  if (!org) throw new Error(`--key must look like secret@org[/project], got "...${spec.slice(at)}"`);
  return [secret, project ? { org, project } : { org }];
}

function limitsOf(flag: string, spec: string, partial: Partial<Limits>): Limits {
  if (partial.rpm === undefined) throw new Error(`--${flag} needs an rpm, got "${spec}"`);
  return partial.tpm === undefined ? { rpm: partial.rpm } : { rpm: partial.rpm, tpm: partial.tpm };
}

export function parseCliOptions(args: string[]): SimOptions {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '0' },
      'window-ms': { type: 'string', default: '60000' },
      rpm: { type: 'string', default: '60' },
      tpm: { type: 'string' },
      key: { type: 'string', multiple: true },
      org: { type: 'string', multiple: true },
      model: { type: 'string', multiple: true },
      'model-group': { type: 'string', multiple: true },
      'accept-any-key': { type: 'boolean', default: false },
      'latency-ms': { type: 'string', default: '0' },
      'latency-jitter-ms': { type: 'string', default: '0' },
      chunks: { type: 'string', default: '5' },
      'chunk-delay-ms': { type: 'string', default: '0' },
    },
  });
  const keys = Object.fromEntries((values.key ?? []).map(parseKey));
  const orgs: Record<string, OrgOptions> = {};
  for (const spec of values.org ?? []) {
    const [org, limits] = nameAndLimits('org', spec, false);
    orgs[org] = { ...orgs[org], ...limits };
  }

  const defaultModels: Record<string, Limits> = {};
  for (const spec of values.model ?? []) {
    // "@org" scopes the limits to one organization ('@' rather than '/': model names may contain '/').
    const at = spec.lastIndexOf('@');
    const [model, partial] = nameAndLimits('model', at < 0 ? spec : spec.slice(0, at), true);
    const limits = limitsOf('model', spec, partial);
    if (at < 0) {
      defaultModels[model] = limits;
      continue;
    }
    const org = spec.slice(at + 1);
    if (!org) throw new Error(`--model must look like model:rpm[:tpm][@org], got "${spec}"`);
    const options = (orgs[org] ??= {});
    options.models = { ...options.models, [model]: limits };
  }

  const modelGroups: Record<string, string[]> = {};
  for (const spec of values['model-group'] ?? []) {
    const [group, members] = spec.split('=');
    if (!group || !members) throw new Error(`--model-group must look like group=model,model, got "${spec}"`);
    modelGroups[group] = members.split(',').filter(Boolean);
  }

  return {
    port: int('port', values.port),
    windowMs: int('window-ms', values['window-ms']),
    defaultLimits: { rpm: int('rpm', values.rpm) ?? 60, tpm: int('tpm', values.tpm), models: defaultModels },
    keys,
    orgs,
    modelGroups,
    acceptAnyKey: values['accept-any-key'] || Object.keys(keys).length === 0,
    latencyMs: int('latency-ms', values['latency-ms']),
    latencyJitterMs: int('latency-jitter-ms', values['latency-jitter-ms']),
    stream: { chunks: int('chunks', values.chunks), chunkDelayMs: int('chunk-delay-ms', values['chunk-delay-ms']) },
  };
}
