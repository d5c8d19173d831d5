import { CLIENT_TOKEN, startTopology, type Topology } from '../src';
import { allQueries } from '../../../infra/grafana/dashboards';
import { alertRules, concreteQuery, metricNames } from './ops/infra-files';
import {
  exportedNames,
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
 * expression goes to Prometheus's HTTP API: each must parse, each panel must return data, and the
 * "all keys out of rotation" alert must fire for the pool whose keys are all cooling.
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
    pools: { main: { keys: 4 }, hot: { keys: 2 } },
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
  it('every panel query returns data, every alert expression parses, all-keys-out fires', async () => {
    const prom = prometheus!;
    const [m0, m1, m2, m3] = topo.secrets.main! as [string, string, string, string];
    topo.sim.setLimits(m1, { rpm: 5 }); // m1 runs out: upstream 429s, then it cools
    topo.sim.setMode(m2, 'server_error'); // circuit breaker: suspended; its probes keep failing
    topo.sim.setMode(m3, 'server_error'); // suspended too, then fit again: a probe brings it back
    for (const secret of topo.secrets.hot!) topo.sim.consume(secret, 1000); // every hot key: 429 -> cooling

    // ~4 s of load over both replicas, so every counter moves across several scrapes.
    const statuses: Record<string, number> = {};
    const started = Date.now();
    for (let round = 0; Date.now() - started < 4000; round++) {
      const calls = [
        ...Array.from({ length: 6 }, (_, i) => chat(topo.proxies[(round + i) % 2]!.url, 'main')),
        chat(topo.proxies[round % 2]!.url, 'hot'),
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

    // The worker's probe brings m3 back; the alert rule sees the hot pool with no key in rotation.
    await until(
      'a successful probe and the all-keys-out alert firing, scraped',
      async () => {
        const success = await prom.query('rotor_probe_last_success_timestamp_seconds');
        const firing = await prom.query(
          'ALERTS{alertname="RotorPoolAllKeysOutOfRotation", alertstate="firing"}',
        );
        return success.data?.result.length && firing.data?.result.length ? true : undefined;
      },
      20_000,
    );
    const alerts = await prom.alerts();
    const allOut = alerts.filter((a) => a.labels.alertname === 'RotorPoolAllKeysOutOfRotation');
    expect(allOut.map((a) => [a.labels.pool, a.state, a.labels.severity])).toEqual([
      ['hot', 'firing', 'critical'],
    ]);
    const suspended = await prom.query('max by (pool) (rotor_pool_keys{state="suspended"})');
    expect(
      Number(suspended.data!.result.find((r) => r.metric.pool === 'main')?.value[1]),
    ).toBeGreaterThanOrEqual(1);

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
    console.log(
      `prometheus: ${queries.length} panel queries with data, ${rules.length} alert rules parsed, alerts: ${JSON.stringify(alerts.map((a) => `${a.labels.alertname}${a.labels.pool ? `{${a.labels.pool}}` : ''} ${a.state}`))}`,
    );
  });
});
