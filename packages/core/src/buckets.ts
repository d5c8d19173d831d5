import type { KeyLimits, ModelLimit, PoolConfig } from './config-types';
import type { Outcome } from './outcome';

/**
 * Rate-limit buckets: providers limit per account (organization, or project) and per model, so a
 * bucket is one account × one model group. These helpers name both halves; the store keeps the budgets.
 */

/** The group of requests that name no model (a models listing, a path without one). */
export const DEFAULT_GROUP = 'default';
/** Where models go that are not configured and cannot be names of their own (and, in the store, models past `maxModelGroups`). */
export const OTHER_GROUP = 'other';

/**
 * What an account or a model group may be called: these names go into Redis key names and metric
 * labels. A model name of this shape is its own group when no `modelGroups` entry lists it.
 */
export const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,99}$/;

interface GroupLookup {
  exact: Map<string, string>;
  /** `[prefix, group]`, longest prefix first. */
  prefixes: [string, string][];
}

// One lookup per resolved `modelGroups` object (a reload makes new objects, so stale entries just go away).
const lookups = new WeakMap<Record<string, string[]>, GroupLookup>();

function lookupFor(modelGroups: Record<string, string[]>): GroupLookup {
  let lookup = lookups.get(modelGroups);
  if (lookup) return lookup;
  lookup = { exact: new Map(), prefixes: [] };
  for (const [group, models] of Object.entries(modelGroups)) {
    for (const model of models) {
      if (model.endsWith('*')) lookup.prefixes.push([model.slice(0, -1), group]);
      else lookup.exact.set(model, group);
    }
  }
  lookup.prefixes.sort((a, b) => b[0].length - a[0].length);
  lookups.set(modelGroups, lookup);
  return lookup;
}

/**
 * The model group a request's model counts against: no model → `default`; a model `modelGroups` lists
 * (exactly, or by a `prefix*` entry; an exact entry wins over a prefix, a longer prefix over a shorter)
 * → its group; any other model → its own name when it is fit to be one, else `other`.
 */
export function modelGroupOf(pool: Pick<PoolConfig, 'modelGroups'>, model: string | undefined): string {
  if (!model) return DEFAULT_GROUP;
  const lookup = lookupFor(pool.modelGroups);
  const exact = lookup.exact.get(model);
  if (exact !== undefined) return exact;
  for (const [prefix, group] of lookup.prefixes) if (model.startsWith(prefix)) return group;
  return BUCKET_NAME.test(model) ? model : OTHER_GROUP;
}

/**
 * Declared per-model limits (`limits.models`) by model group. An entry named after a group applies to
 * that group (the config makes sure a group's name is not another group's model). When entries of
 * several models land in one group, the group gets the smaller `rpm` and the smaller `tpm` of them: the
 * group is one budget upstream, so it can spend no more than its tightest declared model allows.
 */
export function groupLimits(
  pool: Pick<PoolConfig, 'modelGroups'>,
  limits: KeyLimits | undefined,
): Record<string, ModelLimit> {
  const byGroup: Record<string, ModelLimit> = {};
  for (const [model, entry] of Object.entries(limits?.models ?? {})) {
    const group = modelGroupOf(pool, model);
    const merged = (byGroup[group] ??= {});
    const rpm = smaller(merged.rpm, entry.rpm);
    const tpm = smaller(merged.tpm, entry.tpm);
    if (rpm !== undefined) merged.rpm = rpm;
    if (tpm !== undefined) merged.tpm = tpm;
  }
  return byGroup;
}

function smaller(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * The account an answer says its key belongs to: the organization, or `<organization>/<project>` for
 * `scope: 'project'` when the answer names a project (the organization alone when it does not).
 * Undefined when the answer names no organization, or the name is not fit for a bucket name.
 */
export function accountOf(outcome: Outcome, scope: 'organization' | 'project'): string | undefined {
  const organization = outcome.account?.organization;
  if (!organization) return undefined;
  const project = scope === 'project' ? outcome.account?.project : undefined;
  const account = project ? `${organization}/${project}` : organization;
  return BUCKET_NAME.test(account) ? account : undefined;
}
