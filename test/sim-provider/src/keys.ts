import { type ModelGroups, OwnerBuckets } from './buckets';
import { maskKey } from './content';
import { organizationOf } from './organizations';
import type { BudgetOptions, KeyMode, KeyOptions, KeyStats, Limits, ModelLimits, Organization, OrgOptions, Totals } from './types';

/** A key the simulator accepts, with its organization, the buckets it draws on, and its mode. */
export interface ResolvedKey {
  secret: string;
  mode: KeyMode;
  organization: Organization;
  project?: string;
  buckets: OwnerBuckets;
}

export const DEFAULT_LIMITS: Limits = { rpm: 60 };

export type DefaultLimits = Limits & { models?: ModelLimits };

/** Resolved keys are cached (hashing an org id per request would cost more than the rest); past this many, start over. */
const MAX_CACHED_KEYS = 10_000;

const zeroStats = (): KeyStats => ({
  calls: 0,
  ok: 0,
  rateLimited: 0,
  quota: 0,
  invalid: 0,
  serverErrors: 0,
  probes: 0,
});

function hasOwnLimits(options: BudgetOptions): boolean {
  return options.rpm !== undefined || options.tpm !== undefined || options.models !== undefined;
}

/** Which secrets are valid, who owns their budget, their modes, and their counters. */
export class KeyRegistry {
  private readonly keys = new Map<string, KeyOptions>();
  private readonly orgs = new Map<string, OrgOptions>();
  private readonly resolved = new Map<string, ResolvedKey>();
  private readonly counters = new Map<string, KeyStats>();
  private unauthenticated = 0;

  constructor(
    keys: Record<string, KeyOptions>,
    orgs: Record<string, OrgOptions>,
    private readonly defaults: DefaultLimits,
    private readonly groups: ModelGroups,
    private readonly acceptAnyKey: boolean,
  ) {
    for (const [org, options] of Object.entries(orgs)) this.orgs.set(org, { ...options });
    for (const [secret, options] of Object.entries(keys)) {
      // Two places for one budget would leave "which limit applies" to chance: refuse at start.
      if (options.org !== undefined && hasOwnLimits(options)) {
        throw new Error(
          `sim-provider: key ${maskKey(secret)} belongs to organization "${options.org}": declare its limits in orgs["${options.org}"], not on the key`,
        );
      }
      this.keys.set(secret, { ...options });
    }
  }

  /** Undefined = the key is not accepted (401 invalid_api_key). */
  resolve(secret: string): ResolvedKey | undefined {
    const cached = this.resolved.get(secret);
    if (cached) return cached;
    const listed = this.keys.get(secret);
    if (!listed && !(this.acceptAnyKey && secret.length > 0)) return undefined;
    const organization = organizationOf(secret, listed?.org);
    const owner = listed?.org !== undefined ? this.orgs.get(listed.org) : listed;
    const limits: Limits = { rpm: owner?.rpm ?? this.defaults.rpm, tpm: owner?.tpm ?? this.defaults.tpm };
    const models = { ...this.defaults.models, ...owner?.models };
    const key: ResolvedKey = {
      secret,
      mode: listed?.mode ?? 'ok',
      organization,
      project: listed?.project,
      buckets: new OwnerBuckets(organization.id, limits, models, this.groups),
    };
    if (this.resolved.size >= MAX_CACHED_KEYS) this.resolved.clear();
    this.resolved.set(secret, key);
    return key;
  }

  /**
   * The buckets a secret draws on, accepted or not: `consume` and `windowEndsAt` may name a key before
   * `setMode` registers it, and it then keeps the same (own-organization) buckets.
   */
  bucketsOf(secret: string): OwnerBuckets {
    const key = this.resolve(secret);
    if (key) return key.buckets;
    const { id } = organizationOf(secret, undefined);
    return new OwnerBuckets(id, { rpm: this.defaults.rpm, tpm: this.defaults.tpm }, { ...this.defaults.models }, this.groups);
  }

  setMode(secret: string, mode: KeyMode): void {
    this.keys.set(secret, { ...this.keys.get(secret), mode });
    this.resolved.delete(secret);
  }

  /** Writes to the budget's owner: the key's organization when it has one, else the key. */
  setLimits(secret: string, limits: Limits, model?: string): void {
    const listed = this.keys.get(secret) ?? {};
    const org = listed.org;
    const owner: BudgetOptions = org !== undefined ? { ...this.orgs.get(org) } : { ...listed };
    if (model !== undefined) owner.models = { ...owner.models, [model]: { rpm: limits.rpm, tpm: limits.tpm } };
    else Object.assign(owner, { rpm: limits.rpm, tpm: limits.tpm });
    if (org !== undefined) {
      this.orgs.set(org, owner);
      this.keys.set(secret, listed);
    } else {
      this.keys.set(secret, { ...listed, ...owner });
    }
    // Every key of the organization sees the change; clearing all is simpler than finding them.
    this.resolved.clear();
  }

  /** Mutable counters of one key (created on first use). */
  count(secret: string): KeyStats {
    let stats = this.counters.get(secret);
    if (!stats) {
      stats = zeroStats();
      this.counters.set(secret, stats);
    }
    return stats;
  }

  countUnauthenticated(): void {
    this.unauthenticated += 1;
  }

  stats(secret: string): KeyStats {
    return { ...(this.counters.get(secret) ?? zeroStats()) };
  }

  totals(): Totals {
    const sum: Totals = { ...zeroStats(), unauthenticated: this.unauthenticated };
    for (const stats of this.counters.values()) {
      for (const field of Object.keys(stats) as (keyof KeyStats)[]) sum[field] += stats[field];
    }
    return sum;
  }

  resetCounters(): void {
    this.counters.clear();
    this.unauthenticated = 0;
  }
}
