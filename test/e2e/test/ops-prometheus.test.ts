import { CLIENT_TOKEN, startTopology, type Topology } from '../src';
import { allQueries } from '../../../infra/grafana/dashboards';
import { alertRules, concreteQuery, metricNames } from './ops/infra-files';
import { readmeMetricNames } from './ops/readme';
import {
  exportedNames,
  metricFamilies,
  startPrometheus,
  startWorkerProcess,
  type PrometheusProcess,
  type Service,
} from './ops/services';

/**
 * The monitoring stack against a live run: 2 `rotor proxy` replicas and a `rotor worker` process,
 * scraped every second by a real Prometheus loaded with the shipped config and alert rules, during a
 * load with upstream 429s, Rotor's own exhaustion answers, a key suspended by the circuit breaker (probed
 * and still failing) and one that a probe brings back. Then every dashboard query and every alert
 * expression goes to Prometheus's HTTP API: each must parse, each panel must return data; the "model
 * exhausted" alert must fire for the model group whose buckets all cool (its keys stay active), and the
 * "all keys out of rotation" alert for the pool whose keys are all suspended. The README's metric tables
 * name exactly what the services export.
 */
const WINDOW_MS = 30_000;
let topo: Topology;
let worker: Service | undefined;
let prometheus: PrometheusProcess | undefined;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  topo = await startTopology({
    replicas: 2,
    windowMs: WINDOW_MS,
    providerRpm: 1000,
    pools: { main: { keys: 4 }, hot: { keys: 2 }, dead: { keys: 1 } },
    config: {
      retry: { maxAttempts: 3, on5xx: true },
      circuitBreaker: { failures: 2 },
      worker: {
        probe: { suspendedAfterMs: 300, maxBackoffMs: 600, timeoutMs: 2000 },
        reconcileEveryMs: 60_000,
      },
    },
  });
  worker = await startWorkerProcess(topo.configFile);
  prometheus = await startPrometheus({
    proxies: topo.proxies.map((p) => `127.0.0.1:${p.port}`),
    workers: [`127.0.0.1:${worker.port}`],
  });
  // Prometheus hands targets to its scrapers some seconds after start: the load must come after that.
  await until(
    'every target scraped',
    async () =>
      (await prometheus!.query('count(up == 1)')).data?.result[0]?.value[1] === '4' ? true : undefined,
    20_000,
  );
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await worker?.stop();
  await topo?.stop();
});

const chat = (base: string, pool: string) =>
  fetch(`${base}/${pool}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });

describe('Prometheus + dashboards + alerts on a live run', () => {
  it('every panel query returns data, every alert expression parses, model-exhausted and all-keys-out fire', async () => {
    const prom = prometheus!;
    const [m0, m1, m2, m3] = topo.secrets.main! as [string, string, string, string];
    topo.sim.setLimits(m0, { rpm: 1000, tpm: 10_000_000 }); // m0's answers tell its tokens left too
    topo.sim.setLimits(m1, { rpm: 5 }); // m1 runs out: upstream 429s, then its bucket cools
    topo.sim.setMode(m2, 'server_error'); // circuit breaker: suspended; its probes keep failing
    topo.sim.setMode(m3, 'server_error'); // suspended too, then fit again: a probe brings it back
    // Every hot key: 429 -> every bucket of hot's gpt-4o-mini group cools; the keys stay active.
    for (const secret of topo.secrets.hot!) topo.sim.consume(secret, 1000);
    topo.sim.setMode(topo.secrets.dead![0]!, 'server_error'); // dead's only key: suspended

    // ~4 s of load over both replicas, so every counter moves across several scrapes.
    const statuses: Record<string, number> = {};
    const started = Date.now();
    for (let round = 0; Date.now() - started < 4000; round++) {
      const calls = [
        ...Array.from({ length: 6 }, (_, i) => chat(topo.proxies[(round + i) % 2]!.url, 'main')),
        chat(topo.proxies[round % 2]!.url, 'hot'),
        chat(topo.proxies[round % 2]!.url, 'dead'),
      ];
      for (const status of await Promise.all(calls)) statuses[status] = (statuses[status] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    topo.sim.setMode(m3, 'ok');
    console.log(
      `load: ${JSON.stringify(statuses)} upstream 429s: main ${topo.poolStat('main', 'rateLimited')}, hot ${topo.poolStat('hot', 'rateLimited')}; m0 ok ${topo.sim.stats(m0).ok}`,
    );
    expect(statuses[200]).toBeGreaterThan(0);
    expect(statuses[429]).toBeGreaterThan(0);

    // The worker's probe brings m3 back; the alert rules see hot's model group with every bucket
    // cooling, and the dead pool with no key in rotation.
    await until(
      'a successful probe and the model-exhausted and all-keys-out alerts firing, scraped',
      async () => {
        const success = await prom.query('rotor_probe_last_success_timestamp_seconds');
        const exhausted = await prom.query('ALERTS{alertname="RotorModelExhausted", alertstate="firing"}');
        const allOut = await prom.query(
          'ALERTS{alertname="RotorPoolAllKeysOutOfRotation", alertstate="firing"}',
        );
        return success.data?.result.length && exhausted.data?.result.length && allOut.data?.result.length
          ? true
          : undefined;
      },
      20_000,
    );
    const alerts = await prom.alerts();
    const fired = (name: string) =>
      alerts
        .filter((a) => a.labels.alertname === name)
        .map((a) => [a.labels.pool, a.labels.model, a.state, a.labels.severity]);
    expect(fired('RotorModelExhausted')).toEqual([['hot', 'gpt-4o-mini', 'firing', 'critical']]);
    // hot's keys are all active (only their buckets cool): not "out of rotation".
    expect(fired('RotorPoolAllKeysOutOfRotation')).toEqual([['dead', undefined, 'firing', 'critical']]);
    const value = async (expr: string) => {
      const res = await prom.query(expr);
      expect([expr, res.data?.result.length]).toEqual([expr, 1]);
      return Number(res.data!.result[0]!.value[1]);
    };
    expect(await value('max(rotor_pool_keys{pool="main", state="suspended"})')).toBeGreaterThanOrEqual(1);
    expect(await value('max(rotor_pool_keys{pool="hot", state="active"})')).toBe(2);
    // Buckets per model: hot's gpt-4o-mini group has two (one per account), both cooling.
    const hot = 'pool="hot", model="gpt-4o-mini"';
    expect(await value(`max(rotor_buckets{${hot}, state="cooling"})`)).toBe(2);
    expect(await value(`max(rotor_buckets{${hot}, state="ready"})`)).toBe(0);
    expect(await value(`max(rotor_bucket_cooldown_seconds{${hot}})`)).toBeGreaterThan(0);
    expect(await value(`max(rotor_bucket_remaining_requests{${hot}})`)).toBe(0);
    // main's gpt-4o-mini buckets have room, and m0's answers name its tokens.
    const main = 'pool="main", model="gpt-4o-mini"';
    expect(await value(`max(rotor_buckets{${main}, state="ready"})`)).toBeGreaterThanOrEqual(1);
    expect(await value(`max(rotor_bucket_remaining_requests{${main}})`)).toBeGreaterThan(0);
    expect(await value(`max(rotor_bucket_remaining_tokens{${main}})`)).toBeGreaterThan(0);
    // The proxies count hot's 429s and exhaustion answers in its model group.
    expect(await value(`sum(rotor_upstream_429_total{${hot}, kind="rate"})`)).toBeGreaterThan(0);
    expect(await value(`sum(rotor_exhausted_total{${hot}})`)).toBeGreaterThan(0);
    expect(await value(`sum(rotor_upstream_attempts_total{${main}, outcome="success"})`)).toBeGreaterThan(0);

    // Every panel: parses and returns data.
    const empty: string[] = [];
    const queries = allQueries();
    for (const { dashboard, panel, expr } of queries) {
      const res = await prom.query(concreteQuery(expr));
      expect([dashboard, panel, res.status, res.error]).toEqual([dashboard, panel, 'success', undefined]);
      if (!res.data!.result.length) empty.push(`${dashboard} / ${panel}: ${expr}`);
    }
    expect(empty).toEqual([]);
    // Every alert expression parses (most have nothing to say about a healthy run, and that is fine).
    const rules = alertRules();
    for (const rule of rules) {
      const res = await prom.query(rule.expr);
      expect([rule.alert, res.status, res.error]).toEqual([rule.alert, 'success', undefined]);
    }
    // And every metric they read is one the services export (or Prometheus's own `up`).
    const exported = new Set([
      'up',
      ...(await exportedNames(`${topo.proxies[0]!.url}/metrics`)),
      ...(await exportedNames(`${worker!.url}/metrics`)),
    ]);
    const unknown = [...queries.map((q) => q.expr), ...rules.map((r) => r.expr)]
      .flatMap(metricNames)
      .filter((n) => !exported.has(n));
    expect([...new Set(unknown)]).toEqual([]);
    // The README's metric tables (and the worker's) name exactly the metric families the services
    // export (prom-client's process/Node metrics are `rotor_proxy_*` / `rotor_worker_*` there).
    const families = [
      ...(await metricFamilies(`${topo.proxies[0]!.url}/metrics`)),
      ...(await metricFamilies(`${worker!.url}/metrics`)),
    ].filter((n) => !/^rotor_(proxy|worker)_/.test(n));
    const documented = [...readmeMetricNames('README.md'), ...readmeMetricNames('services/worker/README.md')];
    expect([...new Set(documented)].sort()).toEqual([...new Set(families)].sort());
    console.log(
      `prometheus: ${queries.length} panel queries with data, ${rules.length} alert rules parsed, alerts: ${JSON.stringify(alerts.map((a) => `${a.labels.alertname}${a.labels.pool ? `{${a.labels.pool}}` : ''} ${a.state}`))}`,
    );
  });
});
