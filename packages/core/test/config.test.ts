import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { keylessPools, loadConfig, parseConfig, totalKeys } from '../src/config';
import { ConfigError } from '../src/config-error';
import { DEFAULT_KEY_ID_SECRET, keyId } from '../src/key-id';

const FIXTURE = join(__dirname, 'fixtures', 'rotor.yaml');
const ENV = {
  OPENAI_KEYS: 'sk-openai-aaaaaaaa, sk-openai-bbbbbbbb,,sk-openai-cccccccc',
  ANTHROPIC_KEY_1: 'sk-ant-11111111',
  ANTHROPIC_KEY_2: 'sk-ant-22222222',
  ROTOR_CLIENT_TOKEN: 'client-token-1',
  ROTOR_ADMIN_TOKEN: 'admin-token-1',
};
const SECRETS = [...ENV.OPENAI_KEYS.split(/[ ,]+/).filter(Boolean), ENV.ANTHROPIC_KEY_1, ENV.ANTHROPIC_KEY_2];

const minimal = (extra: Record<string, unknown> = {}) => ({
  pools: { main: { provider: 'openai', keys: ['sk-minimal-1'] } },
  routes: { '/v1': 'main' },
  ...extra,
});

/** The ConfigError a config throws (fails the test when it does not throw one). */
function configError(raw: unknown, env: Record<string, string | undefined> = {}): ConfigError {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig: the documented example', () => {
  const config = loadConfig(FIXTURE, ENV);

  it('resolves pools, keys and routes', () => {
    expect(config.port).toBe(8080);
    expect(config.metricsPort).toBe(9100);
    expect(config.keyIdSecret).toBe('fixture-id-secret');
    expect(config.clientTokens).toEqual(['client-token-1']); // unset ROTOR_CLIENT_TOKEN_2 dropped
    expect(config.adminToken).toBe('admin-token-1');

    const openai = config.pools.openai!;
    expect(openai).toMatchObject({
      name: 'openai',
      provider: 'openai',
      baseUrl: 'https://api.openai.com/v1', // trailing slash removed
      maxWaitMs: 0,
      probeModel: 'gpt-4o-mini',
      limits: { rpm: 500, tpm: 30000, windowMs: 60000 },
    });
    expect(openai.keys.map((k) => k.secret)).toEqual([
      'sk-openai-aaaaaaaa',
      'sk-openai-bbbbbbbb',
      'sk-openai-cccccccc',
    ]);
    expect(openai.keys[0]).toEqual({
      id: keyId('sk-openai-aaaaaaaa', 'fixture-id-secret'),
      weight: 1,
      limits: { rpm: 500, tpm: 30000, windowMs: 60000 },
    });

    const anthropic = config.pools.anthropic!;
    expect(anthropic.baseUrl).toBe('https://api.anthropic.com');
    expect(anthropic.probeModel).toBe('claude-haiku-4-5');
    expect(anthropic.keys[1]).toEqual({
      id: keyId('sk-ant-22222222', 'fixture-id-secret'),
      label: 'backup',
      weight: 2,
      limits: { rpm: 50, windowMs: 1000 },
    });
    expect(anthropic.keys[1]!.secret).toBe('sk-ant-22222222');

    expect(config.routes).toEqual([
      { prefix: '/v1/special', pool: 'anthropic' },
      { prefix: '/anthropic', pool: 'anthropic' },
      { prefix: '/v1', pool: 'openai' },
    ]);
    expect(totalKeys(config)).toBe(5);
  });

  it('keeps secrets out of JSON and inspect output', () => {
    const dumped = JSON.stringify(config) + inspect(config, { depth: 10 });
    for (const secret of SECRETS) expect(dumped).not.toContain(secret);
  });

  it('parses the same config twice to the same result (ids are stable)', () => {
    const again = loadConfig(FIXTURE, ENV);
    expect(again).toEqual(config);
    expect(again.pools.openai!.keys.map((k) => k.id)).toEqual(config.pools.openai!.keys.map((k) => k.id));
  });
});

describe('defaults', () => {
  it('fills every section but pools and routes', () => {
    const config = parseConfig(minimal(), {});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      redis: {
        url: 'redis://127.0.0.1:6379',
        prefix: 'rotor',
        commandTimeoutMs: 500,
        connectTimeoutMs: 2000,
        failurePolicy: 'fail-open',
        fallback: { replicas: 'auto', refreshMs: 10000, recoverEveryMs: 1000 },
      },
      keyIdSecret: DEFAULT_KEY_ID_SECRET,
      clientTokens: [],
      maxBodyBytes: 10485760,
      retry: { maxAttempts: 3, on5xx: false, onTimeout: false },
      timeouts: { headersMs: 60000, idleMs: 120000, clientHeadersMs: 20000, clientRequestMs: 300000 },
      backoff: { baseMs: 1000, factor: 2, maxMs: 60000, jitter: 0.2 },
      circuitBreaker: { failures: 5 },
      leaseTtlMs: 600000,
      log: { level: 'info' },
      worker: {
        metricsPort: 9464,
        probe: {
          suspendedAfterMs: 30000,
          quotaAfterMs: 3600000,
          invalidAfterMs: 86400000,
          maxBackoffMs: 3600000,
          timeoutMs: 10000,
        },
        reconcileEveryMs: 60000,
        concurrency: 10,
        lockDurationMs: 30000,
        stalledIntervalMs: 30000,
      },
    });
    expect(config).not.toHaveProperty('adminToken');
    expect(config).not.toHaveProperty('metricsPort');
    expect(config.pools.main).toEqual({
      name: 'main',
      provider: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      keys: [{ id: keyId('sk-minimal-1', DEFAULT_KEY_ID_SECRET), weight: 1 }],
      maxWaitMs: 0,
      defaultOutputTokens: 1024,
      exposeAccountHeaders: false,
      probeModel: 'gpt-4o-mini',
      modelGroups: {},
      maxModelGroups: 16,
      accountScope: 'organization',
      optional: false,
    });
  });

  it('a pool with no keys is an error naming the pool and the variable to set', () => {
    const err = configError({ pools: { main: { provider: 'openai', keys: '${OPENAI_KEYS}' } }, routes: { '/v1': 'main' } });
    expect(err.message).toBe(
      'pools.main.keys: the pool has no keys: give it keys, or mark it `optional: true` (${OPENAI_KEYS} is not set)',
    );
  });

  it('allows an optional pool with no keys, and names it', () => {
    const config = parseConfig(
      {
        pools: {
          main: { provider: 'openai', keys: 'sk-main-1' },
          spare: { provider: 'anthropic', keys: '${ANTHROPIC_KEYS}', optional: true },
        },
        routes: { '/v1': 'main', '/anthropic': 'spare' },
      },
      {},
    );
    expect(config.pools.spare!.keys).toEqual([]);
    expect(totalKeys(config)).toBe(1);
    expect(keylessPools(config)).toEqual(['spare']);
  });
});

describe('environment', () => {
  it('expands ${VAR} and ${VAR:-default} in every string, numbers and booleans included', () => {
    const config = parseConfig(
      minimal({
        port: '${P:-9000}',
        host: '${HOST}',
        retry: { on5xx: '${RETRY_5XX}' },
        redis: { url: 'redis://${REDIS_HOST:-localhost}:${REDIS_PORT}/0' },
        keyIdSecret: 'literal $${NOT_A_VAR}',
      }),
      { HOST: '127.0.0.1', RETRY_5XX: 'true', REDIS_PORT: '6380' },
    );
    expect(config.port).toBe(9000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.retry.on5xx).toBe(true);
    expect(config.redis.url).toBe('redis://localhost:6380/0');
    expect(config.keyIdSecret).toBe('literal ${NOT_A_VAR}');
  });

  it('uses the default when the variable is set but empty', () => {
    expect(parseConfig(minimal({ port: '${P:-9001}' }), { P: '' }).port).toBe(9001);
  });

  it('splits comma/whitespace separated key lists and drops empty list items', () => {
    const config = parseConfig(
      {
        pools: {
          a: { provider: 'openai', keys: '${KEYS}' },
          b: { provider: 'gemini', keys: ['${G1}', '${G2}', { key: '${G3}', weight: '3' }] },
        },
        routes: { '/a': 'a', '/b': 'b' },
        clientTokens: '${TOKENS}',
      },
      { KEYS: 'sk-1111\nsk-2222 , sk-3333', G1: 'AIza-1111', G3: 'AIza-3333', TOKENS: 't1,t2' },
    );
    expect(config.pools.a!.keys.map((k) => k.secret)).toEqual(['sk-1111', 'sk-2222', 'sk-3333']);
    expect(config.pools.b!.keys.map((k) => [k.secret, k.weight])).toEqual([
      ['AIza-1111', 1],
      ['AIza-3333', 3],
    ]);
    expect(config.clientTokens).toEqual(['t1', 't2']);
  });

  it('does not expand a second time (a secret may contain ${)', () => {
    const config = parseConfig(minimal({ adminToken: '${ADMIN}' }), { ADMIN: 'abc${HOME}def' });
    expect(config.adminToken).toBe('abc${HOME}def');
  });

  it('names the unset variable behind a required field', () => {
    const err = configError({
      pools: { az: { provider: 'azure-openai', baseUrl: '${AZURE_BASE_URL}', keys: 'k-1' } },
      routes: { '/az': 'az' },
    });
    expect(err.message).toBe(
      'pools.az.baseUrl: Required for provider azure-openai (${AZURE_BASE_URL} is not set)',
    );
  });

  it('names the unset variable inside a broken value', () => {
    const err = configError(minimal({ redis: { url: '${REDIS_SCHEME}://host' } }));
    expect(err.message).toContain(
      'redis.url: must be a redis://, rediss://, redis+sentinel://, redis+cluster:// or memory:// URL (${REDIS_SCHEME} is not set)',
    );
  });

  it('does not blame a dropped list item for the next one', () => {
    const err = configError({
      pools: { a: { provider: 'openai', keys: ['${KEY_1}', { key: '${KEY_2}' }] } },
      routes: { '/a': 'a' },
    });
    expect(err.message).toBe('pools.a.keys[0].key: Required (${KEY_2} is not set)');
  });

  it('names the unset variable of a key entry', () => {
    const err = configError({
      pools: { a: { provider: 'openai', keys: [{ key: '${KEY_3}', label: 'x' }] } },
      routes: { '/a': 'a' },
    });
    expect(err.message).toBe('pools.a.keys[0].key: Required (${KEY_3} is not set)');
  });

  it.each([
    ['PORT', '7000', (c: ReturnType<typeof parseConfig>) => c.port, 7000],
    [
      'REDIS_URL',
      'redis://redis:6379',
      (c: ReturnType<typeof parseConfig>) => c.redis.url,
      'redis://redis:6379',
    ],
    ['METRICS_PORT', '9999', (c: ReturnType<typeof parseConfig>) => c.worker.metricsPort, 9999],
  ])('%s overrides the file', (name, value, read, expected) => {
    const config = parseConfig(
      minimal({ port: 1234, redis: { url: 'redis://file:1' }, worker: { metricsPort: 1 } }),
      {
        [name]: value,
      },
    );
    expect(read(config)).toBe(expected);
  });

  it('says when a bad value came from an override', () => {
    expect(configError(minimal(), { PORT: 'eighty' }).message).toBe(
      'port: Expected number, received string (from environment variable PORT)',
    );
    expect(configError(minimal(), { METRICS_PORT: '70000' }).message).toMatch(
      /^worker\.metricsPort: .*65535.*\(from environment variable METRICS_PORT\)$/,
    );
  });
});

describe('upstream headers and client limits', () => {
  it('lays a key\'s headers over its pool\'s, names lower-cased; clientLimits defaults to 5 keys out per minute', () => {
    const config = parseConfig(
      minimal({
        pools: {
          main: {
            provider: 'openai',
            headers: { 'OpenAI-Organization': 'org-pool', 'OpenAI-Project': 'proj-pool' },
            keys: [{ key: 'sk-own-org', headers: { 'openai-organization': 'org-key' } }, 'sk-pool-org'],
          },
          plain: { provider: 'openai', keys: ['sk-plain'] },
        },
      }),
      {},
    );
    const [own, inherited] = config.pools.main!.keys;
    expect(own!.headers).toEqual({ 'openai-organization': 'org-key', 'openai-project': 'proj-pool' });
    expect(inherited!.headers).toEqual({ 'openai-organization': 'org-pool', 'openai-project': 'proj-pool' });
    expect(config.pools.plain!.keys[0]!.headers).toBeUndefined();
    expect(config.clientLimits).toEqual({ keysOutPerMinute: 5 });
  });

  it.each([
    ['Authorization', 'credentials and framing headers cannot be set here'],
    ['x-api-key', 'credentials and framing headers cannot be set here'],
    ['Content-Length', 'credentials and framing headers cannot be set here'],
    ['bad header', 'header names may only use letters, digits and "-"'],
  ])('refuses %s as a configured header', (name, message) => {
    const error = configError(minimal({ pools: { main: { provider: 'openai', keys: ['sk-1'], headers: { [name]: 'v' } } } }));
    expect(error.message).toContain('pools.main.headers');
    expect(error.message).toContain(message);
  });
});

describe('model groups, accounts and per-model limits', () => {
  const withPool = (pool: Record<string, unknown>) =>
    minimal({ pools: { main: { provider: 'openai', keys: ['sk-bucket-1'], ...pool } } });

  it('resolves modelGroups, maxModelGroups, accountScope and key accounts', () => {
    const config = parseConfig(
      withPool({
        modelGroups: { 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o'], mini: 'gpt-4o-mini*, o4-mini' },
        maxModelGroups: '32',
        accountScope: 'project',
        keys: [{ key: 'sk-bucket-1', account: 'org-abc' }, 'sk-bucket-2'],
      }),
      {},
    );
    const pool = config.pools.main!;
    expect(pool.modelGroups).toEqual({
      'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'],
      mini: ['gpt-4o-mini*', 'o4-mini'],
    });
    expect(pool.maxModelGroups).toBe(32);
    expect(pool.accountScope).toBe('project');
    expect(pool.keys[0]!.account).toBe('org-abc');
    expect(pool.keys[1]).not.toHaveProperty('account');
  });

  it("lays a key's per-model limits over its pool's, field by field", () => {
    const config = parseConfig(
      withPool({
        limits: { rpm: 100, models: { 'gpt-4o': { rpm: 50, tpm: 30000 }, mini: { tpm: 200000 } } },
        keys: [
          { key: 'sk-bucket-1', limits: { models: { 'gpt-4o': { tpm: 10000 }, o1: { rpm: 5 } } } },
          { key: 'sk-bucket-2', limits: { tpm: 9000 } },
          'sk-bucket-3',
        ],
      }),
      {},
    );
    const pool = config.pools.main!;
    expect(pool.limits).toEqual({
      rpm: 100,
      windowMs: 60000,
      models: { 'gpt-4o': { rpm: 50, tpm: 30000 }, mini: { tpm: 200000 } },
    });
    expect(pool.keys[0]!.limits).toEqual({
      rpm: 100,
      windowMs: 60000,
      models: { 'gpt-4o': { rpm: 50, tpm: 10000 }, mini: { tpm: 200000 }, o1: { rpm: 5 } },
    });
    expect(pool.keys[1]!.limits).toEqual({
      rpm: 100,
      tpm: 9000,
      windowMs: 60000,
      models: pool.limits!.models,
    });
    expect(pool.keys[2]!.limits).toEqual(pool.limits);
  });

  it('a key with per-model limits only has no pool-wide rpm or tpm', () => {
    const config = parseConfig(
      withPool({ keys: [{ key: 'sk-bucket-1', limits: { models: { 'gpt-4o': { rpm: 3 } } } }] }),
      {},
    );
    expect(config.pools.main!.keys[0]!.limits).toEqual({ windowMs: 60000, models: { 'gpt-4o': { rpm: 3 } } });
    expect(config.pools.main).not.toHaveProperty('limits');
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a model in two groups',
      { modelGroups: { a: ['gpt-4o', 'gpt-4o-mini*'], b: ['o1', 'gpt-4o-mini*'] } },
      'pools.main.modelGroups.b[1]: model "gpt-4o-mini*" is in two groups: "a" and "b"',
    ],
    [
      'a reserved group name',
      { modelGroups: { other: ['x'] } },
      'pools.main.modelGroups.other: "default" (requests naming no model) and "other" (models past maxModelGroups) are reserved',
    ],
    [
      'a group name with a space',
      { modelGroups: { 'my group': ['x'] } },
      'pools.main.modelGroups["my group"]: may only use letters, digits',
    ],
    [
      'an empty group',
      { modelGroups: { a: [] } },
      'pools.main.modelGroups.a: a group lists at least one model',
    ],
    [
      'a "*" inside a model',
      { modelGroups: { a: ['gpt-*-mini'] } },
      'pools.main.modelGroups.a[0]: must be printable ASCII without spaces, "*" only at the end',
    ],
    [
      "a group named after another group's model",
      { modelGroups: { claude: ['claude-*'], 'claude-opus': ['claude-opus-4-1'] } },
      'pools.main.modelGroups.claude-opus: the group\'s name is a model of group "claude": list it in its own group, or rename the group',
    ],
    [
      'maxModelGroups 0',
      { maxModelGroups: 0 },
      'pools.main.maxModelGroups: Number must be greater than or equal to 1',
    ],
    [
      'maxModelGroups 257',
      { maxModelGroups: 257 },
      'pools.main.maxModelGroups: Number must be less than or equal to 256',
    ],
    [
      'accountScope',
      { accountScope: 'team' },
      'pools.main.accountScope: must be one of organization, project',
    ],
    [
      'a bad account',
      { keys: [{ key: 'sk-bucket-1', account: '-org' }] },
      'pools.main.keys[0].account: may only use letters, digits',
    ],
    [
      'a per-model limit that is not positive',
      { limits: { models: { 'gpt-4o': { tpm: 0 } } } },
      'pools.main.limits.models.gpt-4o.tpm: Number must be greater than or equal to 1',
    ],
    [
      'a misspelt per-model field',
      { limits: { models: { 'gpt-4o': { rpn: 5 } } } },
      'pools.main.limits.models.gpt-4o.rpn: unknown field; did you mean rpm?',
    ],
    [
      'windowMs per model',
      { limits: { models: { 'gpt-4o': { windowMs: 5 } } } },
      'pools.main.limits.models.gpt-4o.windowMs: unknown field',
    ],
    [
      'a per-model limit for a name that can be no group',
      { keys: [{ key: 'sk-bucket-1', limits: { models: { '_private!': { rpm: 1 } } } }] },
      'pools.main.keys[0].limits.models["_private!"]: names no model group: a model not listed in modelGroups is a group of its own only if its name uses letters',
    ],
  ])('refuses %s', (_name, pool, expected) => {
    expect(configError(withPool(pool)).message).toContain(expected);
  });

  it('takes a per-model limit for a model listed in a group whatever its name', () => {
    const config = parseConfig(
      withPool({
        modelGroups: { odd: ['_private!'] },
        limits: { models: { '_private!': { rpm: 1 }, other: { rpm: 2 } } },
      }),
      {},
    );
    expect(config.pools.main!.limits!.models).toEqual({ '_private!': { rpm: 1 }, other: { rpm: 2 } });
  });
});

describe('bad fields name their path', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'bad URL',
      { pools: { openai: { provider: 'openai', baseUrl: 'not a url' } } },
      'pools.openai.baseUrl: Invalid url',
    ],
    [
      'non-http URL',
      { pools: { openai: { provider: 'openai', baseUrl: 'ftp://x' } } },
      'pools.openai.baseUrl: must be an http(s) URL',
    ],
    [
      'URL with credentials',
      { pools: { openai: { provider: 'openai', baseUrl: 'https://u:p@x.test' } } },
      'pools.openai.baseUrl: must not contain credentials',
    ],
    [
      'unknown provider',
      { pools: { openai: { provider: 'cohere' } } },
      'pools.openai.provider: must be one of openai, anthropic, gemini, azure-openai',
    ],
    ['missing provider', { pools: { openai: {} } }, 'pools.openai.provider: Required'],
    [
      'zero weight',
      { pools: { openai: { provider: 'openai', keys: [{ key: 'sk-1', weight: 0 }] } } },
      'pools.openai.keys[0].weight: Number must be greater than 0',
    ],
    [
      'duplicate key',
      { pools: { openai: { provider: 'openai', keys: 'sk-1,sk-2,sk-1' } } },
      'pools.openai.keys[2]: duplicate key (same as keys[0])',
    ],
    [
      'misspelt field',
      { pools: { openai: { provider: 'openai', maxWaitMS: 5 } } },
      'pools.openai.maxWaitMS: unknown field; did you mean maxWaitMs?',
    ],
    [
      'negative maxWaitMs',
      { pools: { openai: { provider: 'openai', maxWaitMs: -1 } } },
      'pools.openai.maxWaitMs: Number must be greater than or equal to 0',
    ],
    [
      'bad pool name',
      { pools: { 'my pool': { provider: 'openai' } } },
      'pools["my pool"]: may only use letters',
    ],
    [
      'route to unknown pool',
      { routes: { '/v1': 'nope' } },
      'routes["/v1"]: pool "nope" is not defined (pools: openai)',
    ],
    ['route without slash', { routes: { v1: 'openai' } }, "routes.v1: must start with '/'"],
    [
      'same route twice',
      { routes: { '/v1': 'openai', '/v1/': 'openai' } },
      'routes["/v1/"]: same route as "/v1"',
    ],
    ['no pools', { pools: {} }, 'pools: at least one pool is required'],
    ['port out of range', { port: 70000 }, 'port: Number must be less than or equal to 65535'],
    ['fractional port', { port: 80.5 }, 'port: Expected integer, received float'],
    [
      'failure policy',
      { redis: { failurePolicy: 'maybe' } },
      'redis.failurePolicy: must be one of fail-open, fail-closed',
    ],
    [
      'redis url',
      { redis: { url: 'http://redis' } },
      'redis.url: must be a redis://, rediss://, redis+sentinel://, redis+cluster:// or memory:// URL',
    ],
    [
      'sentinel url without a master name',
      { redis: { url: 'redis+sentinel://a:26379,b:26379' } },
      'redis.url: a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:26379,host:26379/mymaster',
    ],
    ['fallback replicas', { redis: { fallback: { replicas: 0 } } }, 'redis.fallback.replicas'],
    [
      'backoff ceiling',
      { backoff: { baseMs: 5000, maxMs: 1000 } },
      'backoff.maxMs: must be at least backoff.baseMs',
    ],
    ['jitter', { backoff: { jitter: 2 } }, 'backoff.jitter: Number must be less than or equal to 1'],
    [
      'log level',
      { log: { level: 'loud' } },
      'log.level: must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    [
      'maxAttempts',
      { retry: { maxAttempts: 0 } },
      'retry.maxAttempts: Number must be greater than or equal to 1',
    ],
    ['boolean', { retry: { on5xx: 'perhaps' } }, 'retry.on5xx: Expected boolean, received string'],
    [
      'worker stall check',
      { worker: { stalledIntervalMs: 0 } },
      'worker.stalledIntervalMs: Number must be greater',
    ],
    [
      'probe timing',
      { worker: { probe: { timeoutMs: 'soon' } } },
      'worker.probe.timeoutMs: Expected number, received string',
    ],
    [
      'limits',
      { pools: { openai: { provider: 'openai', limits: { rpm: 0 } } } },
      'pools.openai.limits.rpm: Number must be greater',
    ],
    ['unknown top-level field', { prot: 80 }, 'prot: unknown field; did you mean port?'],
  ])('%s', (_name, override, expected) => {
    const raw = { pools: { openai: { provider: 'openai' } }, routes: { '/v1': 'openai' }, ...override };
    expect(configError(raw).message).toContain(expected);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['top-level near-miss', { clientToken: 'x' }, 'clientToken: unknown field; did you mean clientTokens?'],
    ['case slip in a pool', { pools: { openai: { provider: 'openai', keys: 'sk-1', MaxWaitMs: 1 } } }, 'pools.openai.MaxWaitMs: unknown field; did you mean maxWaitMs?'],
    ['nested section', { redis: { comandTimeoutMs: 1 } }, 'redis.comandTimeoutMs: unknown field; did you mean commandTimeoutMs?'],
    ['two levels down', { worker: { probe: { timeoutMS: 1 } } }, 'worker.probe.timeoutMS: unknown field; did you mean timeoutMs?'],
    [
      'a key entry',
      { pools: { openai: { provider: 'openai', keys: [{ key: 'sk-1', wieght: 2 }] } } },
      'pools.openai.keys[0].wieght: unknown field; did you mean weight?',
    ],
    ['nothing near', { colour: 'blue' }, 'colour: unknown field'],
  ])('an unknown field is named by its full path, with the field it was meant to be: %s', (_name, override, expected) => {
    const raw = { pools: { openai: { provider: 'openai', keys: 'sk-1' } }, routes: { '/v1': 'openai' }, ...override };
    expect(configError(raw).message).toBe(expected);
  });

  it('names every unknown field of one section on its own line', () => {
    const err = configError({ ...minimal(), prot: 1, hots: 'x' });
    expect(err.message).toBe('prot: unknown field; did you mean port?\nhots: unknown field; did you mean host?');
    expect(err.issues.map((i) => i.path)).toEqual(['prot', 'hots']);
  });

  it('requires azure-openai pools to name their resource', () => {
    expect(
      configError({ pools: { az: { provider: 'azure-openai', keys: 'k-1' } }, routes: { '/az': 'az' } }).message,
    ).toBe('pools.az.baseUrl: Required for provider azure-openai');
  });

  it('lists every problem at once', () => {
    const err = configError({
      port: 'x',
      pools: { openai: { provider: 'nope' } },
      routes: { '/v1': 'other' },
    });
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['port', 'pools.openai.provider']));
    expect(err.message.split('\n').length).toBeGreaterThanOrEqual(2);
  });

  it('rejects a config that is not a mapping', () => {
    expect(configError('just a string').message).toContain('Expected object, received string');
    expect(configError(null).message).toBe('the config is empty');
  });
});

describe('secrets never appear in errors', () => {
  const secret = 'sk-proj-SECRET0123456789';

  it.each<[string, Record<string, unknown>]>([
    [
      'secret in an enum field',
      { pools: { p: { provider: secret, keys: [secret] } }, routes: { '/p': 'p' } },
    ],
    [
      'secret as a route target',
      { pools: { p: { provider: 'openai', keys: secret } }, routes: { '/p': secret } },
    ],
    [
      'secret with a bad weight',
      { pools: { p: { provider: 'openai', keys: [{ key: secret, weight: -1 }] } }, routes: { '/p': 'p' } },
    ],
    [
      'secret with a space',
      { pools: { p: { provider: 'openai', keys: [`${secret} x`] } }, routes: { '/p': 'p' } },
    ],
    [
      'duplicated secret',
      { pools: { p: { provider: 'openai', keys: `${secret},${secret}` } }, routes: { '/p': 'p' } },
    ],
    [
      'secret as the base URL',
      { pools: { p: { provider: 'openai', keys: secret, baseUrl: secret } }, routes: { '/p': 'p' } },
    ],
  ])('%s', (_name, raw) => {
    const err = configError(raw);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain('SECRET0123');
    expect(JSON.stringify(err.issues)).not.toContain(secret);
  });

  it('secret from the environment in a wrong place', () => {
    const err = configError(
      { pools: { p: { provider: '${OPENAI_KEYS}', keys: '${OPENAI_KEYS}' } }, routes: { '/p': 'p' } },
      {
        OPENAI_KEYS: `${secret},sk-other-9876543210`,
      },
    );
    expect(err.message).toContain('pools.p.provider');
    expect(err.message).not.toContain('SECRET0123');
    expect(err.message).not.toContain('9876543210');
  });
});

describe('loadConfig file errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-config-'));

  it('reports a missing file', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'), {})).toThrow(
      /cannot read config file .*nope\.yaml: ENOENT/,
    );
  });

  it('reports YAML syntax errors by position, without quoting the source line', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'pools:\n  openai:\n    keys: "sk-live-LEAKME\n    provider: openai\n');
    let message = '';
    try {
      loadConfig(file, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/bad\.yaml: invalid YAML: .*line \d+, column \d+/);
    expect(message).not.toContain('LEAKME');
  });

  it('shows the offending line, values masked, with a caret under the column', () => {
    const file = join(dir, 'caret.yaml');
    writeFileSync(file, 'routes:\n  /v1: openai\npools:\n  openai: { provider: openai, keys: sk-live-LEAKME2\nport: 8080\n');
    let message = '';
    try {
      loadConfig(file, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      [
        `${file}: invalid YAML: Flow map in block collection must be sufficiently indented and end with a } at line 5, column 1`,
        '  4 |   openai: { provider: openai, keys: ***************',
        '  5 | port: 8080',
        '    | ^',
      ].join('\n'),
    );
  });

  it('reports duplicate YAML keys', () => {
    const file = join(dir, 'dup.yaml');
    writeFileSync(file, 'port: 1\nport: 2\n');
    expect(() => loadConfig(file, {})).toThrow(/invalid YAML: Map keys must be unique/);
  });
});

describe('redis urls', () => {
  it.each([
    'redis://127.0.0.1:6379',
    'rediss://user:pw@redis.example:6380/2',
    'redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster',
    'redis+cluster://10.0.0.1:7000,10.0.0.2:7000',
    'memory://',
  ])('accepts %s', (url) => {
    expect(parseConfig(minimal({ redis: { url, fallback: { replicas: '3' } } }), {}).redis).toMatchObject({
      url,
      fallback: { replicas: 3 },
    });
  });
});
