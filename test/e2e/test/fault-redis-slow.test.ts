import { spawnRedis, type RedisProcess } from '@rotor/testkit';
import {
  between,
  configVariant,
  figures,
  percentile,
  readyz,
  redisCli,
  startFaultProxy,
  startProxyProcess,
  startTopology,
  statuses,
  steadyLoad,
  successRate,
  waitUntil,
  type FaultProxy,
  type Topology,
} from '../src';

/**
 * Cases 2 and 3: Redis slow (DEBUG SLEEP, CLIENT PAUSE, 1.5 s of added latency through a TCP fault
 * proxy) and Redis stopped (SIGSTOP). Two replicas behind nginx reach Redis through the fault proxy,
 * under steady load. Each fault lasts 3 s: command timeouts fire, the replicas serve from their
 * fallback, added latency stays within the timeout budget, only a bounded number of commands reaches
 * Redis meanwhile (no queue of requests piling up), and the replicas return to Redis by themselves.
 */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1000;
const FAULT_MS = 3000;
const CONCURRENCY = 6;
/** Timeout budget: one command timeout plus the proxy's own time, on a busy 2-core machine. */
const P99_BUDGET_MS = COMMAND_TIMEOUT_MS + 250;
const MAX_BUDGET_MS = COMMAND_TIMEOUT_MS + 600;

let redis: RedisProcess;
let faults: FaultProxy;
let topo: Topology;

beforeAll(async () => {
  redis = await spawnRedis();
  faults = await startFaultProxy(redis.port);
  topo = await startTopology({
    replicas: 2,
    loadBalancer: true,
    windowMs: 60_000,
    providerRpm: 100_000,
    redis: { url: faults.url },
    redisConfig: {
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      fallback: { refreshMs: 1000, recoverEveryMs: 250 },
    },
    config: { log: { level: 'warn' } },
    pools: { slow: { keys: 4 } },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
  await faults?.close();
  await redis?.kill();
});

const allReady = async () => (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).every((r) => r.status === 'ready');

/** Steady load; 1 s of normal service, the fault for FAULT_MS, healed; figures for the fault window. */
async function underFault(name: string, start: () => void | Promise<void>, heal: () => Promise<void>) {
  await waitUntil(allReady, 10_000, 'ready before the fault');
  const load = steadyLoad(`${topo.url}/slow`, CONCURRENCY);
  await new Promise((r) => setTimeout(r, 1000));
  const commandsBefore = faults.sent.chunks;
  const from = Date.now();
  await start();
  await new Promise((r) => setTimeout(r, FAULT_MS));
  const degraded = (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).map((r) => r.status);
  const commandsDuring = faults.sent.chunks - commandsBefore;
  const to = Date.now();
  await heal();
  const recoveredMs = await waitUntil(allReady, 10_000, 'ready after the fault');
  await new Promise((r) => setTimeout(r, 300));
  const samples = await load.stop();
  const during = between(samples, from, to);
  const latencies = during.map((s) => s.end - s.start);
  const result = {
    requests: during.length,
    successRate: successRate(during),
    statuses: statuses(during),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
    readyzDuring: degraded,
    commandsSentToRedisDuringFault: commandsDuring,
    recoveredAfterHealMs: recoveredMs,
  };
  figures(name, result);
  expect(result.successRate).toBe(1);
  expect(result.requests).toBeGreaterThan(100);
  expect(result.latencyMs.p99).toBeLessThanOrEqual(P99_BUDGET_MS);
  expect(result.latencyMs.max).toBeLessThanOrEqual(MAX_BUDGET_MS);
  expect(degraded).toEqual(['degraded', 'degraded']);
  // No queue: what reached Redis during the fault is what was in flight when it began plus the
  // recovery probes (a ping per replica per 250 ms), not one command per request served.
  expect(commandsDuring).toBeLessThan(CONCURRENCY * 2 + 2 * (FAULT_MS / 250 + 4));
  expect(recoveredMs).toBeLessThan(3000);
  return result;
}

describe('Redis slow', () => {
  it('DEBUG SLEEP 3: command timeouts fire, requests are served within the budget, back by itself', async () => {
    let sleeping: Promise<unknown> = Promise.resolve();
    await underFault(
      'DEBUG SLEEP 3',
      () => {
        sleeping = redisCli(redis.port, 'DEBUG', 'SLEEP', String(FAULT_MS / 1000));
      },
      async () => {
        await sleeping;
      },
    );
  }, 30_000);

  it('CLIENT PAUSE 3000 ALL: the same', async () => {
    await underFault(
      'CLIENT PAUSE 3000',
      async () => {
        await redisCli(redis.port, 'CLIENT', 'PAUSE', String(FAULT_MS), 'ALL');
      },
      async () => {
        await redisCli(redis.port, 'CLIENT', 'UNPAUSE');
      },
    );
  }, 30_000);

  it('1.5 s of latency on every packet (TCP fault proxy): the same', async () => {
    await underFault(
      'latency 1500 ms',
      () => faults.setLatency(1500),
      async () => faults.setLatency(0),
    );
  }, 30_000);
});

describe('Redis stopped (SIGSTOP)', () => {
  it('running replicas honour the command timeout and recover on SIGCONT; a replica starting meanwhile gives up after the connect bound', async () => {
    let refusedAfterMs = 0;
    let refusal = '';
    await underFault(
      'SIGSTOP',
      async () => {
        redis.pause();
        // A replica started now (straight at the stopped Redis) must not hang: it exits with a message.
        const direct = configVariant(topo.configFile, 'direct', (c) => {
          c.redis.url = redis.url;
        });
        const started = Date.now();
        refusal = await startProxyProcess(direct).then(
          async (p) => {
            await p.stop();
            return 'started';
          },
          (error: Error) => error.message,
        );
        refusedAfterMs = Date.now() - started;
      },
      async () => redis.resume(),
    );
    figures('SIGSTOP: a replica started meanwhile', { exitedAfterMs: refusedAfterMs, boundMs: CONNECT_TIMEOUT_MS + COMMAND_TIMEOUT_MS });
    expect(refusal).toMatch(/did not answer \(no answer within 1500 ms\)/);
    // Its own bound plus starting node + tsx on a busy machine.
    expect(refusedAfterMs).toBeLessThan(CONNECT_TIMEOUT_MS + COMMAND_TIMEOUT_MS + 6000);
  }, 40_000);
});
