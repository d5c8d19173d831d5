import { accountOf, DEFAULT_GROUP, groupLimits, modelGroupOf, OTHER_GROUP } from '../src';
import type { Outcome } from '../src/outcome';

const pool = {
  modelGroups: {
    'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'],
    mini: ['gpt-4o-mini*'],
    'mini-audio': ['gpt-4o-mini-audio*'],
    pinned: ['gpt-4o-mini-2024-07-18'],
    odd: ['weird model!'],
  },
};

describe('modelGroupOf', () => {
  it.each<[string | undefined, string]>([
    [undefined, DEFAULT_GROUP],
    ['', DEFAULT_GROUP],
    ['gpt-4o', 'gpt-4o'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini', 'mini'],
    ['gpt-4o-mini-2024-09-01', 'mini'],
    ['gpt-4o-mini-2024-07-18', 'pinned'], // exact wins over a prefix
    ['gpt-4o-mini-audio-preview', 'mini-audio'], // the longer prefix wins
    ['weird model!', 'odd'], // listed: any name
    ['o3', 'o3'], // unlisted: its own group
    ['accounts/fireworks/models/llama-v3p1-8b-instruct', 'accounts/fireworks/models/llama-v3p1-8b-instruct'],
    ['claude-opus-4-1@20250805', 'claude-opus-4-1@20250805'],
    ['bad model', OTHER_GROUP],
    ['-leading-dash', OTHER_GROUP],
    ['x'.repeat(101), OTHER_GROUP],
    ['GPT-4O', 'GPT-4O'], // names are case-sensitive, as the providers' are
  ])('%s → %s', (model, group) => {
    expect(modelGroupOf(pool, model)).toBe(group);
  });

  it('works without configured groups', () => {
    expect(modelGroupOf({ modelGroups: {} }, 'gpt-4o')).toBe('gpt-4o');
    expect(modelGroupOf({ modelGroups: {} }, undefined)).toBe(DEFAULT_GROUP);
  });

  it('a lone "*" takes every model', () => {
    const all = { modelGroups: { all: ['*'] } };
    expect(modelGroupOf(all, 'anything at all')).toBe('all');
    expect(modelGroupOf(all, undefined)).toBe(DEFAULT_GROUP);
  });

  it('reads each modelGroups object afresh (a reloaded config is a new object)', () => {
    const first = { modelGroups: { a: ['m'] } };
    expect(modelGroupOf(first, 'm')).toBe('a');
    expect(modelGroupOf({ modelGroups: { b: ['m'] } }, 'm')).toBe('b');
  });
});

describe('groupLimits', () => {
  it('maps per-model limits to their groups; an entry named after a group applies to it', () => {
    expect(
      groupLimits(pool, {
        windowMs: 60_000,
        models: { 'gpt-4o-2024-08-06': { rpm: 50, tpm: 30_000 }, mini: { tpm: 200_000 }, o3: { rpm: 5 } },
      }),
    ).toEqual({ 'gpt-4o': { rpm: 50, tpm: 30_000 }, mini: { tpm: 200_000 }, o3: { rpm: 5 } });
  });

  it('takes the smaller rpm and the smaller tpm when several entries land in one group', () => {
    expect(
      groupLimits(pool, {
        windowMs: 60_000,
        models: {
          'gpt-4o': { rpm: 50, tpm: 30_000 },
          'gpt-4o-2024-08-06': { rpm: 80, tpm: 10_000 },
          'gpt-4o-mini': { rpm: 7 },
          mini: { tpm: 900 },
        },
      }),
    ).toEqual({ 'gpt-4o': { rpm: 50, tpm: 10_000 }, mini: { rpm: 7, tpm: 900 } });
  });

  it('is empty without per-model limits', () => {
    expect(groupLimits(pool, undefined)).toEqual({});
    expect(groupLimits(pool, { rpm: 5, windowMs: 60_000 })).toEqual({});
  });
});

describe('accountOf', () => {
  const answer = (account?: Outcome['account']): Outcome => ({
    kind: 'success',
    status: 200,
    rateLimit: {},
    ...(account ? { account } : {}),
  });

  it('is the organization, or organization/project for scope project', () => {
    const both = answer({ organization: 'org-abc', project: 'proj_123' });
    expect(accountOf(both, 'organization')).toBe('org-abc');
    expect(accountOf(both, 'project')).toBe('org-abc/proj_123');
    expect(accountOf(answer({ organization: 'org-abc' }), 'project')).toBe('org-abc');
  });

  it('is undefined without an organization or with one unfit for a bucket name', () => {
    expect(accountOf(answer(), 'organization')).toBeUndefined();
    expect(accountOf(answer({ project: 'proj_123' }), 'project')).toBeUndefined();
    expect(accountOf(answer({ organization: 'org abc' }), 'organization')).toBeUndefined();
    expect(accountOf(answer({ organization: 'org-abc', project: 'p q' }), 'project')).toBeUndefined();
    expect(accountOf(answer({ organization: 'o'.repeat(101) }), 'organization')).toBeUndefined();
  });

  it('takes a UUID (Anthropic) as it is', () => {
    const id = '6a1d5b0e-3f4c-4e2a-9b7d-2c8e1f0a9b3c';
    expect(accountOf(answer({ organization: id }), 'project')).toBe(id);
  });
});
