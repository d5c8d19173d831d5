import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { renderedMonitoring, ruleGroups } from '../../../infra/k8s/generate';
import { rssBytes } from '../src/process-stats';
import { waitForHttp } from '../src/wait';
import { INFRA, PROMETHEUS_CONFIG, REPO_ROOT, readYaml, type PrometheusConfig } from './ops/infra-files';
import { K8S_DIR, OVERLAYS, find, kustomize, requireKubectl, type K8sObject } from './k8s/render';
import { podSpec, quantityBytes, runContainer, type Container, type PodSpec } from './k8s/run-container';

/**
 * infra/k8s against the code it deploys, not by eye: the generated monitoring objects against their
 * one source, the containers' commands, ports and env against what the CLI and the config read, and
 * the proxy and the worker started exactly as the production overlay says (plain processes) answering
 * their probes.
 */
beforeAll(() => requireKubectl());

const render = (overlay: string) => kustomize(path.join(K8S_DIR, 'overlays', overlay));
const production = () => render('production').objects;
const container = (objects: K8sObject[], deployment: string): Container =>
  podSpec(find(objects, 'Deployment', deployment)).containers[0]!;
const envValue = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;
const portOf = (c: Container, name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
const rotorYaml = (objects: K8sObject[]) =>
  (find(objects, 'ConfigMap', 'rotor-config') as unknown as { data: { 'rotor.yaml': string } }).data['rotor.yaml'];
const run = (cmd: string, args: string[], cwd: string) => {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`${cmd} not runnable (Debian package prometheus has promtool): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

describe('monitoring objects come from one source', () => {
  it('infra/k8s/monitoring is what infra/k8s/generate.ts makes of infra/prometheus/rules and infra/grafana', () => {
    for (const [file, text] of renderedMonitoring()) {
      const onDisk = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)';
      expect([path.relative(REPO_ROOT, file), onDisk === text]).toEqual([path.relative(REPO_ROOT, file), true]);
    }
  });

  it("the rendered PrometheusRule holds exactly infra/prometheus's rules; promtool checks them and runs every alert unit test on them", () => {
    const rule = find(production(), 'PrometheusRule', 'rotor') as unknown as { spec: { groups: unknown[] } };
    const fromPrometheus = fs
      .readdirSync(path.join(INFRA, 'prometheus/rules'))
      .flatMap((f) => readYaml<{ groups: unknown[] }>(path.join(INFRA, 'prometheus/rules', f)).groups);
    expect(rule.spec.groups).toEqual(fromPrometheus);
    expect(rule.spec.groups).toEqual(ruleGroups());

    // The unit tests of infra/prometheus/tests, pointed at the rules taken out of the PrometheusRule.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-k8s-rules-'));
    fs.writeFileSync(path.join(dir, 'from-k8s.rules.yml'), stringify({ groups: rule.spec.groups }));
    expect(run('promtool', ['check', 'rules', 'from-k8s.rules.yml'], dir)).toMatchObject({ status: 0 });
    const testDir = path.join(INFRA, 'prometheus/tests');
    const tests = fs.readdirSync(testDir).filter((f) => f.endsWith('.yml'));
    for (const file of tests) {
      const test = readYaml<{ rule_files: string[] }>(path.join(testDir, file));
      fs.writeFileSync(path.join(dir, file), stringify({ ...test, rule_files: ['from-k8s.rules.yml'] }));
    }
    const result = run('promtool', ['test', 'rules', ...tests], dir);
    expect([result.status, result.output]).toEqual([0, expect.not.stringContaining('FAILED')]);
    expect(result.output.match(/SUCCESS/g)?.length).toBe(tests.length);
    fs.rmSync(dir, { recursive: true });
  });

  it('the dashboard ConfigMaps hold exactly the dashboard JSON files, labelled for the Grafana sidecar', () => {
    const maps = production().filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    const files = fs.readdirSync(path.join(INFRA, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
    const data = Object.assign({}, ...maps.map((m) => (m as unknown as { data: Record<string, string> }).data));
    expect(Object.keys(data).sort()).toEqual(files.sort());
    for (const file of files) expect(data[file]).toBe(fs.readFileSync(path.join(INFRA, 'grafana/dashboards', file), 'utf8'));
  });

  it('the ServiceMonitors scrape the jobs the rules and dashboards name, through Services that reach the metrics ports', () => {
    const objects = production();
    const jobs = readYaml<PrometheusConfig>(PROMETHEUS_CONFIG).scrape_configs.map((s) => s.job_name);
    const scraped: string[] = [];
    for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor')) {
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
      const matches = (labels: Record<string, string> = {}) => Object.entries(spec.selector.matchLabels).every(([k, v]) => labels[k] === v);
      const services = objects.filter((o) => o.kind === 'Service' && matches(o.metadata.labels));
      expect([monitor.metadata.name, services.length]).toEqual([monitor.metadata.name, 1]);
      const service = services[0]!;
      scraped.push(service.metadata.name); // the Prometheus Operator's job label: the Service's name
      const svc = service.spec as { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
      const endpoint = spec.endpoints[0]!;
      expect(endpoint.path).toBe('/metrics');
      const target = svc.ports.find((p) => p.name === endpoint.port)!.targetPort;
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && Object.entries(svc.selector).every(([k, v]) => podSpecLabels(o)[k] === v),
      )!;
      expect(podSpec(deployment).containers[0]!.ports!.map((p) => p.name)).toContain(target);
    }
    expect(scraped.sort()).toEqual(jobs.filter((j) => j.startsWith('rotor-')).sort());
  });
});

const podSpecLabels = (deployment: K8sObject) =>
  (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;

describe('the manifests against the code', () => {
  it('args are rotor commands and no command hides the image ENTRYPOINT; env names are the ones Rotor reads', () => {
    const objects = production();
    const main = fs.readFileSync(path.join(REPO_ROOT, 'services/cli/src/main.ts'), 'utf8');
    const core = fs.readFileSync(path.join(REPO_ROOT, 'packages/core/src/config.ts'), 'utf8');
    const overrides = [...core.matchAll(/\{ name: '(\w+)', path: \[/g)].map((m) => m[1]!);
    expect(overrides).toEqual(expect.arrayContaining(['PORT', 'REDIS_URL', 'METRICS_PORT']));
    // ${VAR} in the config's values (its comments mention ${VAR} too).
    const referenced = [...JSON.stringify(parse(rotorYaml(objects))).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
    const read = new Set(['ROTOR_CONFIG', ...overrides, ...referenced]);
    for (const name of ['rotor-proxy', 'rotor-worker']) {
      const c = container(objects, name);
      expect(c.command).toBeUndefined();
      expect(main).toContain(`case '${c.args![0]}':`);
      expect(c.args).toEqual([name.replace('rotor-', '')]);
      for (const e of c.env ?? []) expect([name, e.name, read.has(e.name)]).toEqual([name, e.name, true]);
    }
    // Every ${VAR} of rotor.yaml reaches the proxy; the worker gets the provider keys (its probes use them).
    const proxyEnv = container(objects, 'rotor-proxy').env!.map((e) => e.name);
    expect(proxyEnv).toEqual(expect.arrayContaining(referenced));
    expect(container(objects, 'rotor-worker').env!.map((e) => e.name)).toEqual(
      expect.arrayContaining(referenced.filter((r) => r.endsWith('_KEYS'))),
    );
  });

  it("ports: each container port is the one the config and env make Rotor listen on; Services target declared ports", () => {
    const objects = production();
    const config = parse(rotorYaml(objects)) as { port: number; metricsPort: number; worker: { metricsPort: number } };
    const proxy = container(objects, 'rotor-proxy');
    const worker = container(objects, 'rotor-worker');
    expect(portOf(proxy, 'http')).toBe(config.port);
    expect(envValue(proxy, 'PORT')).toBe(String(config.port));
    expect(portOf(proxy, 'metrics')).toBe(config.metricsPort);
    expect(portOf(worker, 'metrics')).toBe(config.worker.metricsPort);
    expect(envValue(worker, 'METRICS_PORT')).toBe(String(config.worker.metricsPort));
    expect(envValue(proxy, 'ROTOR_CONFIG')).toBe(`${proxy.volumeMounts!.find((m) => m.name === 'config')!.mountPath}/rotor.yaml`);
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const svc = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && Object.entries(svc.selector).every(([k, v]) => podSpecLabels(o)[k] === v),
      )!;
      const declared = podSpec(deployment).containers[0]!.ports!.map((p) => p.name);
      for (const p of svc.ports) expect([service.metadata.name, declared]).toEqual([service.metadata.name, expect.arrayContaining([p.targetPort])]);
    }
  });

  it('the dev overlay: redis.url names its Redis Service; the production overlay: REDIS_URL from a Secret', () => {
    const dev = render('dev').objects;
    const url = new URL((parse(rotorYaml(dev)) as { redis: { url: string } }).redis.url);
    const service = find(dev, 'Service', url.hostname).spec as { ports: { port: number }[] };
    expect(service.ports.map((p) => p.port)).toContain(Number(url.port));
    expect(find(dev, 'StatefulSet', url.hostname)).toBeDefined();
    for (const name of ['rotor-proxy', 'rotor-worker'])
      expect(container(production(), name).env!.find((e) => e.name === 'REDIS_URL')!.valueFrom!.secretKeyRef).toEqual({ name: 'rotor-redis', key: 'url' });
  });

  it('demo mode without keys is asked for in the dev overlay only (production stops on a config with no keys)', () => {
    expect(envValue(container(render('dev').objects, 'rotor-proxy'), 'ROTOR_DEMO')).toBe('1');
    expect(envValue(container(production(), 'rotor-proxy'), 'ROTOR_DEMO')).toBeUndefined();
  });

  it('no secret literal in any rendered manifest', () => {
    for (const overlay of OVERLAYS) {
      const { text, objects } = render(overlay);
      expect([overlay, objects.filter((o) => o.kind === 'Secret').length]).toEqual([overlay, 0]);
      // Secret-shaped env comes from a Secret, never as a value.
      for (const d of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet'))
        for (const c of podSpec(d).containers)
          for (const e of c.env ?? [])
            if (/KEY|TOKEN|SECRET|PASSWORD/.test(e.name) || (overlay === 'production' && e.name === 'REDIS_URL'))
              expect([overlay, e.name, e.value, Boolean(e.valueFrom?.secretKeyRef)]).toEqual([overlay, e.name, undefined, true]);
      for (const pattern of [/sk-[A-Za-z0-9_-]{16,}/, /sk-ant-/, /AIza[0-9A-Za-z_-]{30,}/, /:\/\/[^\s/@:]*:[^\s/@]+@/])
        expect([overlay, pattern.source, pattern.test(text)]).toEqual([overlay, pattern.source, false]);
      expect(text).not.toMatch(/keyIdSecret|adminToken: "?[^"$\s]/);
    }
  });

  it('termination grace covers the preStop pause plus the drain; resources cover the benchmarked figures', () => {
    const objects = production();
    const proxy = find(objects, 'Deployment', 'rotor-proxy');
    const pod = podSpec(proxy);
    const sleep = Number(pod.containers[0]!.lifecycle!.preStop!.exec!.command[1]);
    const server = fs.readFileSync(path.join(REPO_ROOT, 'services/proxy/src/server.ts'), 'utf8');
    const drainMs = Number(/drainTimeoutMs \?\? ([\d_]+)/.exec(server)![1]!.replace(/_/g, ''));
    expect(sleep).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds!).toBeGreaterThanOrEqual(sleep + drainMs / 1000 + 5);
    // docs/benchmarks.md: peak RSS of one replica holding 1,000 streams.
    const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs/benchmarks.md'), 'utf8');
    const peakMb = Number(/1,000 concurrent streams: RSS[^|]*\|\s*peak \*\*([\d.]+) MB\*\*/.exec(docs)![1]);
    expect(peakMb).toBeGreaterThan(50);
    const resources = pod.containers[0]!.resources!;
    expect(quantityBytes(resources.limits!.memory!)).toBeGreaterThan(peakMb * 1e6 * 1.5);
    expect(resources.limits!.cpu).toBeUndefined();
  });
});

it("the README's Kubernetes section names directories and objects that exist", () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Kubernetes'), readme.indexOf('\n## ', readme.indexOf('\n## Kubernetes') + 1));
  const code = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');
  const applied = [...code.matchAll(/kubectl apply -k (\S+)/g)].map((m) => m[1]!);
  expect(applied.sort()).toEqual(OVERLAYS.map((o) => `infra/k8s/overlays/${o}`).sort());
  const objects = production();
  for (const [, name] of code.matchAll(/deployment\/(rotor-[a-z]+)/g)) expect(find(objects, 'Deployment', name!)).toBeDefined();
  // The Secrets the README creates are the ones the manifests reference, with the same keys.
  const refs = new Set(
    ['rotor-proxy', 'rotor-worker'].flatMap((d) =>
      container(objects, d).env!.flatMap((e) => (e.valueFrom?.secretKeyRef ? [`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`] : [])),
    ),
  );
  const created = [...code.matchAll(/create secret generic (rotor-[a-z]+)((?:\s*\\?\n?\s*--from-literal=\w+=\S*)+)/g)].flatMap((m) =>
    [...m[2]!.matchAll(/--from-literal=(\w+)=/g)].map((k) => `${m[1]}/${k[1]}`),
  );
  expect(new Set(created)).toEqual(refs);
});

describe('replicas started exactly as the production overlay says (plain processes), probed as the kubelet would', () => {
  const secrets = {
    'rotor-secrets': {
      OPENAI_KEYS: 'sk-k8s-test-aaaaaaaaaaaaaaaa,sk-k8s-test-bbbbbbbbbbbbbbbb',
      ROTOR_CLIENT_TOKEN: 'client-token-k8s-test',
      ROTOR_ADMIN_TOKEN: 'admin-token-k8s-test',
    },
    'rotor-redis': { url: testRedisUrl() },
  };

  /** rotor-config as rendered; only what a process cannot share with a pod changes: ports and the Redis prefix. */
  function clusterFor(objects: K8sObject[], metricsHostPort?: number) {
    let text = rotorYaml(objects).replace(/^ {2}prefix: rotor$/m, `  prefix: ${uniquePrefix('k8s')}`);
    if (metricsHostPort) text = text.replace(/^metricsPort: 9100\b/m, `metricsPort: ${metricsHostPort}`);
    expect(text).not.toBe(rotorYaml(objects));
    return { secrets, configMaps: { 'rotor-config': { 'rotor.yaml': text } } };
  }

  async function probeAll(pod: PodSpec, name: string, get: (port: number | string, p: string) => Promise<Response>) {
    const c = pod.containers.find((x) => x.name === name)!;
    const probes = [c.startupProbe, c.livenessProbe, c.readinessProbe];
    expect(probes.every((p) => p?.httpGet)).toBe(true);
    const answers: Record<string, number> = {};
    for (const probe of probes) answers[probe!.httpGet!.path] = (await get(probe!.httpGet!.port, probe!.httpGet!.path)).status;
    return answers;
  }

  it('rotor proxy: probes answer 200 (readiness `ready`), metrics on their own port only, the secrets are read; RSS under its request; SIGTERM exits in time', async () => {
    const objects = production();
    const pod = podSpec(find(objects, 'Deployment', 'rotor-proxy'));
    // The metrics port is set in rotor.yaml (no env for it): map it by hand.
    const metricsHostPort = await freePort();
    const proxy = await runContainer(pod, 'proxy', clusterFor(objects, metricsHostPort));
    try {
      const metricsUrl = `http://127.0.0.1:${metricsHostPort}/metrics`;
      await waitForHttp(proxy.url('http', '/healthz'), proxy.child, 30_000);
      const get = (port: number | string, p: string) => fetch(proxy.url(port, p), { signal: AbortSignal.timeout(3000) });
      expect(await probeAll(pod, 'proxy', get)).toEqual({ '/healthz': 200, '/readyz': 200 });
      expect(await (await get('http', '/readyz')).json()).toMatchObject({ status: 'ready' });
      await waitForHttp(metricsUrl, proxy.child);
      const metrics = await (await fetch(metricsUrl)).text();
      expect(metrics).toContain('rotor_requests_total');
      expect((await get('http', '/metrics')).status).toBe(404); // not through the Service `rotor`
      // Keys from the Secret (not demo mode), client and admin tokens from it too.
      expect(proxy.output()).toMatch(/pool openai: openai, 2 key\(s\)/);
      expect(proxy.output()).not.toContain('DEMO MODE');
      const admin = (token: string) => fetch(proxy.url('http', '/admin/pools'), { headers: { authorization: `Bearer ${token}` } });
      expect((await admin(secrets['rotor-secrets'].ROTOR_ADMIN_TOKEN)).status).toBe(200);
      expect((await admin(secrets['rotor-secrets'].ROTOR_CLIENT_TOKEN)).status).toBe(403);
      expect((await admin('wrong')).status).toBe(401);

      const rss = rssBytes(proxy.child.pid!);
      const request = quantityBytes(pod.containers[0]!.resources!.requests!.memory!);
      console.log(`proxy as the manifest runs it: RSS ${(rss / 2 ** 20).toFixed(1)} MiB after start (request ${pod.containers[0]!.resources!.requests!.memory})`);
      expect(rss).toBeLessThan(request);
      for (const secret of Object.values(secrets['rotor-secrets'])) expect(proxy.output()).not.toContain(secret.split(',')[0]);
    } finally {
      const preStop = Number(pod.containers[0]!.lifecycle!.preStop!.exec!.command[1]);
      const stopped = await proxy.stop(pod.terminationGracePeriodSeconds! - preStop);
      console.log(`proxy SIGTERM -> exit ${stopped.code} in ${stopped.ms} ms`);
      if (stopped.code !== 0) console.log(proxy.output());
      expect(stopped).toMatchObject({ code: 0, signal: null });
    }
  }, 60_000);

  it('rotor worker: probes answer 200, metrics on the probed port; RSS under its request; SIGTERM exits in time', async () => {
    const objects = production();
    const pod = podSpec(find(objects, 'Deployment', 'rotor-worker'));
    const worker = await runContainer(pod, 'worker', clusterFor(objects));
    try {
      await waitForHttp(worker.url('metrics', '/healthz'), worker.child, 30_000);
      const get = (port: number | string, p: string) => fetch(worker.url(port, p), { signal: AbortSignal.timeout(3000) });
      expect(await probeAll(pod, 'worker', get)).toEqual({ '/healthz': 200 });
      const metrics = await (await get('metrics', '/metrics')).text();
      expect(metrics).toMatch(/^rotor_pool_keys\{.*pool="openai".*\} /m);
      const rss = rssBytes(worker.child.pid!);
      const request = quantityBytes(pod.containers[0]!.resources!.requests!.memory!);
      console.log(`worker as the manifest runs it: RSS ${(rss / 2 ** 20).toFixed(1)} MiB after start (request ${pod.containers[0]!.resources!.requests!.memory})`);
      expect(rss).toBeLessThan(request);
    } finally {
      const stopped = await worker.stop(pod.terminationGracePeriodSeconds!);
      console.log(`worker SIGTERM -> exit ${stopped.code} in ${stopped.ms} ms`);
      if (stopped.code !== 0) console.log(worker.output());
      expect(stopped).toMatchObject({ code: 0, signal: null });
    }
  }, 60_000);
});
