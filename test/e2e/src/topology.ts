import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startSimProvider, type SimOptions, type SimProvider } from '@rotor/sim-provider';
import { spawnRedis, spawnRedisCluster, uniquePrefix, type RedisClusterProcess, type RedisProcess } from '@rotor/testkit';
import { startNginx, type LoadBalancer } from './nginx';
import { startProxyProcess, type ProxyProcess } from './proxy-process';
import { stopAllLoads } from './steady-load';

export const CLIENT_TOKEN = 'e2e-client-token';

export interface PoolSpec {
  keys: number;
  provider?: 'openai' | 'anthropic' | 'gemini' | 'azure-openai';
  /** Declared per-key limits, as an operator would write them. */
  limits?: { rpm?: number; windowMs?: number };
  maxWaitMs?: number;
  /** Another upstream than the simulated provider (a test's own server); its keys are still generated. */
  baseUrl?: string;
  /** The pool's `headers` (sent upstream with every key of the pool). */
  headers?: Record<string, string>;
  exposeAccountHeaders?: boolean;
  /**
   * The simulated organization of each key, by position (`SimOptions.orgs` gives its limits); a key
   * left out is an organization of its own with `providerRpm`.
   */
  orgs?: (string | undefined)[];
  /** Each key's declared `account` in the config, by position (left out: learned from answers). */
  accounts?: (string | undefined)[];
  /** The pool's `modelGroups`. */
  modelGroups?: Record<string, string[]>;
}

export interface TopologyOptions {
  replicas: number;
  /** Put nginx in front of the replicas. */
  loadBalancer?: boolean;
  pools: Record<string, PoolSpec>;
  /** The provider's per-key limit per window. */
  providerRpm?: number;
  windowMs?: number;
  sim?: Partial<SimOptions>;
  config?: Record<string, unknown>;
  /**
   * Which Redis the replicas share: a private redis-server (default), a 3-primary Redis Cluster
   * (`redis+cluster://`), or a URL the test runs itself (Sentinel, a fault proxy in front of Redis).
   * The default can be changed for a whole test file with `setDefaultRedis`.
   */
  redis?: RedisChoice;
  /** Extra fields of the config's `redis` section (failurePolicy, commandTimeoutMs, fallback, ...). */
  redisConfig?: Record<string, unknown>;
}

export type RedisChoice = 'standalone' | 'cluster' | { url: string };

let defaultRedis: RedisChoice = 'standalone';

let lastStarted: Topology | undefined;

/** The topology this test file started last (for checks added around a shared scenario). */
export function lastTopology(): Topology | undefined {
  return lastStarted;
}

/** Runs every topology of this test file on another Redis (e.g. the rotation scenarios on Cluster). */
export function setDefaultRedis(choice: RedisChoice): void {
  defaultRedis = choice;
}

export interface Topology {
  /** The private redis-server; on Cluster its first node; with a URL of the test's own, undefined. */
  redis: RedisProcess;
  cluster?: RedisClusterProcess;
  /** What the replicas were given as `redis.url`. */
  redisUrl: string;
  sim: SimProvider;
  proxies: ProxyProcess[];
  lb?: LoadBalancer;
  /** Where clients go: the load balancer, else the first replica. */
  url: string;
  configFile: string;
  /** Secrets per pool, in config order. */
  secrets: Record<string, string[]>;
  /** Sum of a sim stat over a pool's keys. */
  poolStat(pool: string, stat: 'calls' | 'ok' | 'rateLimited'): number;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A whole Rotor deployment as plain processes: a private redis-server, N `rotor proxy` replicas,
 * optionally nginx in front, and the simulated provider (in this process). Each pool is routed at
 * `/<pool>` (OpenAI SDK baseURL `${url}/<pool>`), with its own fresh keys, so scenarios never share state.
 */
export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const windowMs = options.windowMs ?? 3000;
  const secrets: Record<string, string[]> = {};
  for (const [name, spec] of Object.entries(options.pools)) {
    secrets[name] = Array.from({ length: spec.keys }, (_, i) => `sk-e2e-${name}-${uniquePrefix('s')}-${i}`);
  }
  const simKeys = Object.entries(secrets).flatMap(([name, list]) =>
    list.map((secret, i) => {
      const org = options.pools[name]!.orgs?.[i];
      return [secret, org !== undefined ? { org } : { rpm: options.providerRpm ?? 20 }] as const;
    }),
  );
  const sim = await startSimProvider({
    windowMs,
    keys: Object.fromEntries(simKeys),
    ...options.sim,
  });
  try {
    return await startOnSim(options, sim, secrets);
  } catch (error) {
    // The simulator lives in this process and would keep Jest from exiting; the processes started
    // before the failure are stopped by the test environment's teardown (testkit).
    await sim.close();
    throw error;
  }
}

async function startOnSim(options: TopologyOptions, sim: SimProvider, secrets: Record<string, string[]>): Promise<Topology> {
  const choice = options.redis ?? defaultRedis;
  const cluster = choice === 'cluster' ? await spawnRedisCluster(3) : undefined;
  const redis = cluster ? cluster.nodes[0]! : typeof choice === 'object' ? undefined : await spawnRedis();
  const redisUrl =
    typeof choice === 'object'
      ? choice.url
      : cluster
        ? `redis+cluster://${cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
        : redis!.url;
  const config = {
    port: 0,
    redis: { url: redisUrl, prefix: 'rotor', ...options.redisConfig },
    clientTokens: [CLIENT_TOKEN],
    log: { level: 'info' },
    pools: Object.fromEntries(
      Object.entries(options.pools).map(([name, spec]) => [
        name,
        {
          provider: spec.provider ?? 'openai',
          baseUrl: spec.baseUrl ?? (spec.provider === 'anthropic' ? sim.url : `${sim.url}/v1`),
          keys: secrets[name]!.map((key, i) => (spec.accounts?.[i] !== undefined ? { key, account: spec.accounts[i] } : key)),
          ...(spec.limits ? { limits: spec.limits } : {}),
          ...(spec.maxWaitMs ? { maxWaitMs: spec.maxWaitMs } : {}),
          ...(spec.headers ? { headers: spec.headers } : {}),
          ...(spec.exposeAccountHeaders ? { exposeAccountHeaders: true } : {}),
          ...(spec.modelGroups ? { modelGroups: spec.modelGroups } : {}),
        },
      ]),
    ),
    routes: Object.fromEntries(Object.keys(options.pools).map((name) => [`/${name}`, name])),
    ...options.config,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-e2e-'));
  const configFile = path.join(dir, 'rotor.yaml');
  fs.writeFileSync(configFile, stringify(config));

  const proxies = await Promise.all(Array.from({ length: options.replicas }, () => startProxyProcess(configFile)));
  const lb = options.loadBalancer ? await startNginx(proxies.map((p) => p.port)) : undefined;
  const handle: Topology = {
    redis: redis as RedisProcess,
    ...(cluster ? { cluster } : {}),
    redisUrl,
    sim,
    proxies,
    ...(lb ? { lb } : {}),
    url: lb?.url ?? proxies[0]!.url,
    configFile,
    secrets,
    poolStat: (pool, stat) => secrets[pool]!.reduce((sum, s) => sum + sim.stats(s)[stat], 0),
    logs: () => proxies.map((p) => p.output()).join('\n'),
    stop: async () => {
      await stopAllLoads();
      await lb?.stop();
      await Promise.all(proxies.map((p) => p.stop()));
      await sim.close();
      if (cluster) await cluster.stop();
      // A test that restarted Redis put the new process here.
      else await handle.redis?.kill();
    },
  };
  lastStarted = handle;
  return handle;
}
