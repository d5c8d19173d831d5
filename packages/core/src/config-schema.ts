import { z } from 'zod';
import { BUCKET_NAME, DEFAULT_GROUP, modelGroupOf, OTHER_GROUP } from './buckets';
import { DEFAULT_KEY_ID_SECRET } from './key-id';
import { providers } from './providers';
import { PROVIDER_KINDS } from './providers/provider';

/**
 * The YAML config as zod sees it after `${VAR}` expansion. Values may arrive as strings (`${PORT:-8080}`),
 * so numbers and booleans accept their text form. Objects are strict: a misspelt field is an error, not
 * a silently ignored setting. Messages never quote a value (a value may be a secret).
 */

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const toNumber = (v: unknown) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v);
const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  '1': true,
  '0': false,
};
const toBoolean = (v: unknown) => (typeof v === 'string' ? (BOOLEAN_WORDS[v.toLowerCase()] ?? v) : v);

const int = (min: number) => z.preprocess(toNumber, z.number().int().min(min));
const posInt = int(1);
const nonNegInt = int(0);
const port = z.preprocess(toNumber, z.number().int().min(0).max(65535));
const bool = z.preprocess(toBoolean, z.boolean());
const positive = z.preprocess(toNumber, z.number().positive());

/** A comma/whitespace separated string (`OPENAI_KEYS=sk-a,sk-b`) or a YAML list. */
const listOf = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v), z.array(item));

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
// Pool names go into Redis key names (`rotor:{<pool>}:...`) and metric labels: no braces, colons or spaces.
const poolName = z.string().regex(NAME, 'may only use letters, digits, "_", "-" and "." (at most 64)');

// Header values must be visible ASCII; every real provider key is.
const secret = z.string().regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const label = z
  .string()
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .regex(/^[^\x00-\x1f\x7f]{1,64}$/, 'must be 1 to 64 characters, no control characters');

// Accounts and model groups name rate-limit buckets in Redis keys and metric labels.
const BUCKET_CHARS =
  'letters, digits, "_", ".", ":", "@", "/" and "-", starting with a letter or digit (at most 100)';
const bucketName = z.string().regex(BUCKET_NAME, `may only use ${BUCKET_CHARS}`);
const RESERVED_GROUPS = new Set([DEFAULT_GROUP, OTHER_GROUP]);
const groupName = bucketName.refine(
  (name) => !RESERVED_GROUPS.has(name),
  `"${DEFAULT_GROUP}" (requests naming no model) and "${OTHER_GROUP}" (models past maxModelGroups) are reserved`,
);
// A model as clients name it; a trailing `*` matches every model starting with what comes before it.
const modelPattern = z
  .string()
  .regex(/^[\x21-\x29\x2b-\x7e]{0,255}\*?$/, 'must be printable ASCII without spaces, "*" only at the end')
  .min(1);
const modelName = z
  .string()
  .regex(
    /^[\x21-\x29\x2b-\x7e]{1,256}$/,
    'must be a model or model group name (printable ASCII, no spaces or "*")',
  );

const modelLimit = z.object({ rpm: posInt.optional(), tpm: posInt.optional() }).strict();
const limits = z
  .object({
    rpm: posInt.optional(),
    tpm: posInt.optional(),
    windowMs: posInt.optional(),
    // Per model or model group, in the same window.
    models: z.record(modelName, modelLimit).optional(),
  })
  .strict();
export type RawLimits = z.infer<typeof limits>;

/**
 * Headers Rotor sends upstream with a pool's (or one key's) requests, e.g. the `openai-organization`
 * that owns the key. Not credentials (those come from `keys`) and not framing headers.
 */
const RESERVED_HEADERS = new Set([
  'authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'proxy-authorization', 'cookie',
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade',
]);
const upstreamHeaders = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'header names may only use letters, digits and "-"')
      .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'credentials and framing headers cannot be set here'),
    z.string().regex(/^[\x20-\x7e]{1,256}$/, 'must be 1 to 256 printable ASCII characters'),
  )
  .transform((h) => Object.fromEntries(Object.entries(h).map(([name, value]) => [name.toLowerCase(), value])));

const keyEntry = z.preprocess(
  (v) => (typeof v === 'string' ? { key: v } : v),
  z
    .object({
      key: secret,
      label: label.optional(),
      weight: positive.default(1),
      limits: limits.optional(),
      headers: upstreamHeaders.optional(),
      // The organization/account that owns the key: keys of one account share its rate limits.
      account: bucketName.optional(),
    })
    .strict(),
);

const httpUrl = z
  .string()
  .superRefine((text, ctx) => {
    const problem = httpUrlProblem(text);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  })
  .transform((text) => text.replace(/\/+$/, ''));

function httpUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'Invalid url';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not contain credentials (keys go in `keys`)';
  if (url.search || url.hash) return 'must not contain a query or fragment';
  return undefined;
}

const pool = z
  .object({
    provider: z.enum(PROVIDER_KINDS),
    baseUrl: httpUrl.optional(),
    keys: listOf(keyEntry).default([]),
    limits: limits.optional(),
    maxWaitMs: nonNegInt.default(0),
    // The provider's headers naming the keys' owner (openai-organization, anthropic-organization-id)
    // are dropped from answers unless this is set.
    exposeAccountHeaders: bool.default(false),
    // Tokens a request is counted for when it names no output limit (max_tokens & co.).
    defaultOutputTokens: nonNegInt.default(1024),
    probeModel: z.string().optional(),
    headers: upstreamHeaders.optional(),
    // Group name -> models the provider limits together (one budget per account and group).
    modelGroups: z
      .record(
        groupName,
        listOf(modelPattern).refine((models) => models.length > 0, 'a group lists at least one model'),
      )
      .default({}),
    // Model groups tracked per account: configured groups always are; other models past it share `other`.
    maxModelGroups: z.preprocess(toNumber, z.number().int().min(1).max(256)).default(16),
    // What shares limits: the organization, or each of its projects (OpenAI's `openai-project`).
    accountScope: z.enum(['organization', 'project']).default('organization'),
    // A pool that may run without keys (its routes answer 503 until it has some): said at start and
    // in /readyz. Any other pool without keys is an error, so an unset ${VAR} cannot go unnoticed.
    optional: bool.default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.keys.length === 0 && !p.optional) {
      ctx.addIssue({
        code: 'custom',
        path: ['keys'],
        message: 'the pool has no keys: give it keys, or mark it `optional: true`',
      });
    }
    if (p.baseUrl === undefined && providers[p.provider].defaultBaseUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: `Required for provider ${p.provider}` });
    }
    modelGroupProblems(p, ctx);
    // Rejected rather than merged: a repeated key is a copy-paste slip or a misread weight, and one
    // secret is one id in Redis, so two entries could not have separate state anyway.
    const firstIndex = new Map<string, number>();
    p.keys.forEach((k, i) => {
      const first = firstIndex.get(k.key);
      if (first === undefined) firstIndex.set(k.key, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i],
          message: `duplicate key (same as keys[${first}])`,
        });
    });
  });
export type RawPool = z.infer<typeof pool>;

interface ModelGroupFields {
  modelGroups: Record<string, string[]>;
  limits?: RawLimits | undefined;
  keys: { limits?: RawLimits | undefined }[];
}

/**
 * A model in two groups is ambiguous; so is a group named after another group's model (a limit or a
 * request naming it could mean either). A `limits.models` entry must name a model group, or a model
 * fit to be one: anything else would silently land in `other`.
 */
function modelGroupProblems(p: ModelGroupFields, ctx: z.RefinementCtx): void {
  const owner = new Map<string, string>();
  for (const [group, models] of Object.entries(p.modelGroups)) {
    models.forEach((model, i) => {
      const first = owner.get(model);
      if (first !== undefined && first !== group) {
        ctx.addIssue({
          code: 'custom',
          path: ['modelGroups', group, i],
          message: `model "${model}" is in two groups: "${first}" and "${group}"`,
        });
      }
      owner.set(model, first ?? group);
    });
  }
  for (const group of Object.keys(p.modelGroups)) {
    const groupOfName = modelGroupOf(p, group);
    if (groupOfName !== group) {
      ctx.addIssue({
        code: 'custom',
        path: ['modelGroups', group],
        message: `the group's name is a model of group "${groupOfName}": list it in its own group, or rename the group`,
      });
    }
  }
  const checkModels = (limits: RawLimits | undefined, path: (string | number)[]) => {
    for (const name of Object.keys(limits?.models ?? {})) {
      if (name !== OTHER_GROUP && modelGroupOf(p, name) === OTHER_GROUP) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'limits', 'models', name],
          message: `names no model group: a model not listed in modelGroups is a group of its own only if its name uses ${BUCKET_CHARS}`,
        });
      }
    }
  };
  checkModels(p.limits, []);
  p.keys.forEach((k, i) => checkModels(k.limits, ['keys', i]));
}

const routePrefix = z.string().regex(/^\/[^\s?#]*$/, "must start with '/' and contain no spaces, '?' or '#'");

/** `/v1/` and `/v1` are the same route; only the catch-all keeps its slash. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/\/+$/, '') || '/';
}

// A missing section is an empty one, so each field's own default applies.
const section = <T extends z.ZodRawShape>(shape: T) => z.preprocess((v) => v ?? {}, z.object(shape).strict());

const REDIS_URL = /^(rediss?|redis\+sentinel|redis\+cluster):\/\/\S*$/;

const redis = section({
  // memory:// = no Redis: one replica on its in-memory store (it cannot share state, so it does not scale out).
  url: z
    .string()
    .refine(
      (url) => REDIS_URL.test(url) || url === 'memory://',
      'must be a redis://, rediss://, redis+sentinel://, redis+cluster:// or memory:// URL',
    )
    .refine(
      (url) => !url.startsWith('redis+sentinel://') || /^redis\+sentinel:\/\/[^/]+\/[^/\s]+$/.test(url),
      'a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:26379,host:26379/mymaster',
    )
    .default('redis://127.0.0.1:6379'),
  // Prepended to every Redis key name; braces would break the `{pool}` Cluster hash tags.
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'may only use letters, digits, "_", "-", "." and ":"')
    .default('rotor'),
  commandTimeoutMs: posInt.default(500),
  connectTimeoutMs: posInt.default(2000),
  failurePolicy: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
  // fail-open: how a replica serves from its own memory while Redis is down, and how it comes back.
  fallback: section({
    // Each key's budget is divided by this while in fallback; `auto` = the replicas that sent a
    // heartbeat to Redis recently (so N replicas together never spend a key N times over).
    replicas: z.union([z.literal('auto'), posInt]).default('auto'),
    // How often a healthy replica heartbeats and copies Redis's key states into its fallback.
    refreshMs: posInt.default(10_000),
    // How often a replica in fallback (or fail-closed and cut off) tries Redis again.
    recoverEveryMs: posInt.default(1000),
  }),
});

export const configSchema = z
  .object({
    port: port.default(8080),
    host: z.string().default('0.0.0.0'),
    redis,
    keyIdSecret: z.string().default(DEFAULT_KEY_ID_SECRET),
    clientTokens: listOf(z.string()).default([]),
    adminToken: z.string().optional(),
    metricsPort: port.optional(),
    maxBodyBytes: posInt.default(10 * 1024 * 1024),
    retry: section({
      maxAttempts: posInt.default(3),
      on5xx: bool.default(false),
      onTimeout: bool.default(false),
    }),
    timeouts: section({
      headersMs: posInt.default(60_000),
      idleMs: posInt.default(120_000),
      // Client side: a client must send its request headers within clientHeadersMs and its whole
      // request within clientRequestMs, or its connection is closed (slowloris).
      clientHeadersMs: posInt.default(20_000),
      clientRequestMs: posInt.default(300_000),
    }),
    backoff: section({
      baseMs: posInt.default(1000),
      factor: z.preprocess(toNumber, z.number().min(1)).default(2),
      maxMs: posInt.default(60_000),
      jitter: z.preprocess(toNumber, z.number().min(0).max(1)).default(0.2),
    }).refine((b) => b.maxMs >= b.baseMs, { path: ['maxMs'], message: 'must be at least backoff.baseMs' }),
    circuitBreaker: section({ failures: posInt.default(5) }),
    // Keys the answers to one client token's requests may take out of rotation per minute (0 = no
    // limit), so a client cannot empty a pool by asking for what the keys may not do.
    clientLimits: section({ keysOutPerMinute: nonNegInt.default(5) }),
    leaseTtlMs: posInt.default(600_000),
    log: section({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    }),
    pools: z.record(poolName, pool).refine((p) => Object.keys(p).length > 0, 'at least one pool is required'),
    routes: z
      .record(routePrefix, z.string())
      .refine((r) => Object.keys(r).length > 0, 'at least one route is required'),
    worker: section({
      metricsPort: port.default(9464),
      probe: section({
        suspendedAfterMs: posInt.default(30_000),
        quotaAfterMs: posInt.default(3_600_000),
        invalidAfterMs: posInt.default(86_400_000),
        // A key one answer called invalid is re-checked with the free listing this soon.
        suspectAfterMs: nonNegInt.default(0),
        maxBackoffMs: posInt.default(3_600_000),
        timeoutMs: posInt.default(10_000),
      }),
      reconcileEveryMs: posInt.default(60_000),
      // Probes run at once per worker replica (each is one small upstream request).
      concurrency: posInt.default(10),
      // A probe whose worker died (no lock renewal for lockDurationMs) is found by the stalled check,
      // which runs every stalledIntervalMs, and handed to another replica.
      lockDurationMs: posInt.default(30_000),
      stalledIntervalMs: posInt.default(30_000),
    }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const pools = Object.keys(c.pools);
    const seen = new Map<string, string>();
    for (const [prefix, target] of Object.entries(c.routes)) {
      const same = seen.get(normalizePrefix(prefix));
      if (same !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['routes', prefix], message: `same route as "${same}"` });
      }
      seen.set(normalizePrefix(prefix), prefix);
      if (!Object.hasOwn(c.pools, target)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', prefix],
          message: `pool "${target}" is not defined (pools: ${pools.join(', ')})`,
        });
      }
    }
  });

export type RawConfig = z.infer<typeof configSchema>;
