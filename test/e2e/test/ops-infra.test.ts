import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { testRedisUrl } from '@rotor/testkit';
import { renderedDashboards } from '../../../infra/grafana/generate';
import { allQueries } from '../../../infra/grafana/dashboards';
import {
  COMPOSE_FILE,
  INFRA,
  NGINX_CONFIG,
  PROMETHEUS_CONFIG,
  REPO_ROOT,
  RULES_FILE,
  alertRules,
  metricNames,
  nginxUpstreams,
  readYaml,
  scrapeTargets,
  type PrometheusConfig,
} from './ops/infra-files';

/**
 * Static checks of everything infra/ and docker-compose.yml ship (no Docker engine here): promtool on the
 * Prometheus config and rules (and the alert unit tests), the dashboards up to date with their generator,
 * and the compose file consistent with the files it names, the load balancer and the scrape targets.
 */
function run(cmd: string, args: string[], cwd = REPO_ROOT) {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`${cmd} not runnable: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Compose's `${VAR:-default}` with nothing set: the default. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  expose?: string[];
  ports?: string[];
  volumes?: string[];
}

describe('Prometheus config and alert rules', () => {
  it('promtool check config / check rules pass, and every alert unit test passes', () => {
    const config = run('promtool', ['check', 'config', PROMETHEUS_CONFIG]);
    expect(config.output).toContain('SUCCESS');
    expect(config.status).toBe(0);
    const rules = run('promtool', ['check', 'rules', RULES_FILE]);
    expect(rules.status).toBe(0);
    const testDir = path.join(INFRA, 'prometheus/tests');
    const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const tests = run('promtool', ['test', 'rules', ...files], testDir);
    expect(tests.output).not.toContain('FAILED');
    expect(tests.status).toBe(0);
  });

  it('every alert has a unit test, and the all-keys-out alert is tested firing', () => {
    const testDir = path.join(INFRA, 'prometheus/tests');
    const tested = new Set<string>();
    for (const file of fs.readdirSync(testDir).filter((f) => f.endsWith('.yml'))) {
      const doc = readYaml<{ tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }>(
        path.join(testDir, file),
      );
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? []) if (a.exp_alerts.length) tested.add(a.alertname);
    }
    expect(
      alertRules()
        .map((r) => r.alert)
        .filter((a) => !tested.has(a)),
    ).toEqual([]);
    expect(tested).toContain('RotorPoolAllKeysOutOfRotation');
  });
});

describe('Grafana', () => {
  it('the dashboard JSON files are what infra/grafana/generate.ts makes of dashboards.ts', () => {
    const rendered = renderedDashboards();
    const onDisk = fs.readdirSync(path.join(INFRA, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
    expect(onDisk.sort()).toEqual([...rendered.keys()].map((f) => path.basename(f)).sort());
    for (const [file, text] of rendered)
      expect([file, fs.readFileSync(file, 'utf8') === text]).toEqual([file, true]);
  });

  it('every panel query reads only rotor_ metrics (or up), with bounded labels', () => {
    for (const { panel, expr } of allQueries()) {
      const names = metricNames(expr);
      expect([panel, names.length > 0]).toEqual([panel, true]);
      for (const name of names)
        expect([panel, name]).toEqual([panel, expect.stringMatching(/^(rotor_\w+|up)$/)]);
    }
  });

  it('provisioning points at the compose Prometheus and at the mounted dashboards', () => {
    const ds = readYaml<{ datasources: { uid: string; url: string }[] }>(
      path.join(INFRA, 'grafana/provisioning/datasources/prometheus.yml'),
    );
    expect(ds.datasources[0]).toMatchObject({ uid: 'prometheus', url: 'http://prometheus:9090' });
    const providers = readYaml<{ providers: { options: { path: string } }[] }>(
      path.join(INFRA, 'grafana/provisioning/dashboards/rotor.yml'),
    );
    const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8')) as {
      services: Record<string, ComposeService>;
    };
    const mounts = (compose.services.grafana?.volumes ?? []).map((v) => v.split(':'));
    expect(mounts).toContainEqual(['./infra/grafana/dashboards', providers.providers[0]!.options.path, 'ro']);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;
  const proxies = Object.entries(services).filter(([, s]) => s.command?.[0] === 'proxy');
  const workers = Object.entries(services).filter(([, s]) => s.command?.[0] === 'worker');

  it('parses (docker-compose config -q when installed) with Redis, 3 proxies, a worker, lb, Prometheus, Grafana', () => {
    const dc = spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (dc.error) console.log('docker-compose not installed: YAML parse only');
    else expect([dc.status, dc.stderr]).toEqual([0, '']);
    expect(Object.keys(services).sort()).toEqual([
      'grafana',
      'lb',
      'prometheus',
      'proxy-1',
      'proxy-2',
      'proxy-3',
      'redis',
      'worker',
    ]);
    expect(proxies).toHaveLength(3);
    expect(workers).toHaveLength(1);
  });

  it('every file, directory and Dockerfile it names exists; the rotor image is multi-stage, pruned, non-root', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, Boolean(service.image || service.build)]).toEqual([name, true]);
      if (service.build) {
        expect(fs.existsSync(path.join(REPO_ROOT, service.build.context, service.build.dockerfile))).toBe(
          true,
        );
      }
      for (const volume of service.volumes ?? []) {
        const source = interpolate(volume).split(':')[0]!;
        if (!source.startsWith('.')) continue; // a named volume
        expect([name, source, fs.existsSync(path.join(REPO_ROOT, source))]).toEqual([name, source, true]);
      }
    }
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, services['proxy-1']!.build!.dockerfile), 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/turbo prune @rotor\/cli --docker/);
    expect(dockerfile).toMatch(/npm install -g pnpm@9\.15\.9/);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/^USER node$/m);
    const entry = /ENTRYPOINT \[([^\]]*)\]/
      .exec(dockerfile)![1]!
      .split(',')
      .map((s) => JSON.parse(s.trim()) as string);
    // One process: node with tsx's require hook, so SIGTERM / SIGHUP reach Rotor itself; the same
    // flags as `pnpm rotor`.
    expect(entry.slice(0, 4)).toEqual(['node', '--max-semi-space-size=8', '--require', 'tsx/cjs']);
    const rootScripts = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // `exec`: pnpm passes a SIGTERM to its child only, so the shell must not stay between it and Rotor.
    expect(rootScripts.rotor).toBe(`exec ${entry.slice(0, 4).join(' ')} services/cli/src/main.ts`);
    expect(rootScripts.start).toBe(`exec ${entry.slice(0, 4).join(' ')} services/cli/src/main.ts start`);
    expect(fs.existsSync(path.join(REPO_ROOT, entry[4]!.replace('/app/', '')))).toBe(true);
    const main = fs.readFileSync(path.join(REPO_ROOT, 'services/cli/src/main.ts'), 'utf8');
    for (const [, s] of [...proxies, ...workers]) expect(main).toContain(`case '${s.command![0]}':`);
  });

  it('the nginx upstreams and the Prometheus targets are exactly the proxy services and their ports', () => {
    const proxyTargets = proxies.map(([name, s]) => `${name}:${s.environment!.PORT}`).sort();
    for (const [name, s] of proxies) expect([name, s.expose]).toEqual([name, [s.environment!.PORT]]);
    expect(nginxUpstreams(fs.readFileSync(NGINX_CONFIG, 'utf8')).sort()).toEqual(proxyTargets);
    const prometheus = readYaml<PrometheusConfig>(PROMETHEUS_CONFIG);
    expect(scrapeTargets(prometheus, 'rotor-proxy').sort()).toEqual(proxyTargets);
    expect(scrapeTargets(prometheus, 'rotor-worker').sort()).toEqual(
      workers.map(([name, s]) => `${name}:${s.environment!.METRICS_PORT}`).sort(),
    );
    // The balancer listens on the port compose publishes; Prometheus finds its rule files where compose mounts them.
    const listen = /listen\s+(\d+)/.exec(fs.readFileSync(NGINX_CONFIG, 'utf8'))![1];
    expect(services.lb!.ports).toEqual([`${listen}:${listen}`]);
    expect(services.lb!.volumes).toContain('./infra/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    for (const rules of prometheus.rule_files ?? []) {
      expect(fs.existsSync(path.join(path.dirname(PROMETHEUS_CONFIG), rules))).toBe(true);
      const mounted = services.prometheus!.volumes!.some((v) =>
        v.startsWith(`./infra/prometheus/${path.dirname(rules)}:`),
      );
      expect([rules, mounted]).toEqual([rules, true]);
    }
  });

  it('the rotor config the services mount is valid with the environment compose gives them (rotor status runs)', () => {
    const service = services['proxy-1']!;
    const source = service
      .volumes!.map(interpolate)
      .find((v) => v.endsWith(':/etc/rotor/rotor.yaml:ro'))!
      .split(':')[0]!;
    expect(source).toBe('./rotor.example.yaml');
    const file = path.join(REPO_ROOT, source);
    const env = Object.fromEntries(
      Object.entries(service.environment!).map(([k, v]) => [k, interpolate(String(v))]),
    );
    expect(env.ROTOR_CONFIG).toBe('/etc/rotor/rotor.yaml');
    const status = spawnSync(
      path.join(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['services/cli/src/main.ts', 'status'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env, ROTOR_CONFIG: file, REDIS_URL: testRedisUrl() },
      },
    );
    // Text mode names the Redis it read (stderr), and nothing else goes there.
    expect([status.status, status.stderr]).toEqual([0, `Redis ${testRedisUrl()} (from REDIS_URL), prefix rotor\n`]);
    expect(status.stdout).toMatch(/^pool openai \(openai, 0 keys\)/m);
  });

  it('the nginx config is valid for nginx itself (nginx -t, compose host names resolved locally)', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'rotor-nginx-t-'));
    const conf = fs
      .readFileSync(NGINX_CONFIG, 'utf8')
      .replace(/server\s+proxy-\d+:(\d+);/g, 'server 127.0.0.1:$1;')
      .replaceAll('/tmp/', `${dir}/`)
      .replace('/dev/stderr', `${dir}/error.log`); // no terminal here; the nginx image links it to docker logs
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const check = run('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect([check.status, check.output]).toEqual([0, expect.stringContaining('test is successful')]);
  });
});
