import type { Limits, ModelLimits } from './types';

/**
 * Which bucket a request draws on. The real APIs limit per organization and per model (often per
 * model family): a bucket is (organization, model group). An owner's models that are not listed in its
 * `models` share its default bucket, so with no `models` at all a key keeps the single window it had
 * before buckets existed, and a client inventing model names cannot grow the simulator's state.
 */

/** Name of an owner's default bucket in `BucketStats.model`. */
export const DEFAULT_BUCKET = '*';

/** A bucket as a request sees it: where it is counted and under which limits. */
export interface BucketRef {
  /** Key of the bucket's window in the limiter. */
  id: string;
  org: string;
  /** Model group name, or DEFAULT_BUCKET. */
  model: string;
  limits: Limits;
}

/** Model name → the group it is limited with (itself when it is in no group). */
export class ModelGroups {
  private readonly groupOf = new Map<string, string>();

  constructor(groups: Record<string, string[]>) {
    for (const [group, members] of Object.entries(groups)) {
      for (const model of members) {
        const other = this.groupOf.get(model);
        if (other !== undefined && other !== group) {
          throw new Error(`sim-provider: model "${model}" is in two modelGroups ("${other}" and "${group}")`);
        }
        this.groupOf.set(model, group);
      }
    }
  }

  group(model: string): string {
    return this.groupOf.get(model) ?? model;
  }
}

/** The buckets of one owner: one per listed model (group), plus the default one. Built once per key, read per request. */
export class OwnerBuckets {
  private readonly listed = new Map<string, BucketRef>();
  readonly fallback: BucketRef;

  constructor(org: string, limits: Limits, models: ModelLimits, private readonly groups: ModelGroups) {
    // NUL cannot appear in a header-borne org id or a JSON model name the simulator would list.
    this.fallback = { id: `${org}\0${DEFAULT_BUCKET}`, org, model: DEFAULT_BUCKET, limits };
    for (const [model, modelLimits] of Object.entries(models)) {
      this.listed.set(model, { id: `${org}\0${model}`, org, model, limits: modelLimits });
    }
  }

  /** The bucket a request naming `model` draws on; no model (listing models, unparsable bodies): the default. */
  forModel(model: string | undefined): BucketRef {
    if (model === undefined) return this.fallback;
    return this.listed.get(this.groups.group(model)) ?? this.fallback;
  }
}
