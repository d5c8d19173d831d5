import { OTHER_GROUP, type PoolConfig } from '@rotor/core';
import { groupName, maxGroupsOf, trackedGroups } from '@rotor/redis-store';

/** What the metrics need to know of a pool: its name and the bound on its model groups. */
export type MetricsPool = Pick<PoolConfig, 'name' | 'modelGroups' | 'maxModelGroups'>;

/**
 * The `model` label: a request's model group, bounded per pool as the store bounds the groups it tracks
 * (the configured groups, `maxModelGroups` more, `default`, `other`; see redis-store maxGroupsOf). Past
 * the bound, a group this replica has not named yet is counted as `other`, so invented model names cannot
 * grow the series. Never an account: there is no bound on accounts.
 */
export class ModelLabels {
  private readonly pools = new Map<string, { names: Set<string>; max: number }>();

  /** Sets a pool's bound (at start and on reload); returns the groups it always tracks. */
  configure(pool: MetricsPool): string[] {
    const options = { modelGroups: Object.keys(pool.modelGroups), maxModelGroups: pool.maxModelGroups };
    const tracked = trackedGroups(options);
    const known = this.pools.get(pool.name)?.names ?? new Set<string>();
    for (const group of tracked) known.add(group);
    this.pools.set(pool.name, { names: known, max: maxGroupsOf(options) });
    return tracked;
  }

  /** The label for a group of `pool`: the group itself, or `other` past the pool's bound. */
  of(pool: string, group: string): string {
    let p = this.pools.get(pool);
    if (p === undefined) {
      // A pool not configured (yet): the default bound.
      p = { names: new Set(trackedGroups({})), max: maxGroupsOf({}) };
      this.pools.set(pool, p);
    }
    if (p.names.has(group)) return group;
    const name = groupName(group);
    if (p.names.has(name)) return name;
    if (p.names.size >= p.max) return OTHER_GROUP;
    p.names.add(name);
    return name;
  }
}
