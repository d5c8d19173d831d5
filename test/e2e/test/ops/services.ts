import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, spawnTracked, stopProcess } from '@rotor/testkit';
import { waitForHttp } from '../../src/wait';
import {
  NGINX_CONFIG,
  PROMETHEUS_CONFIG,
  REPO_ROOT,
  RULES_FILE,
  readYaml,
  type PrometheusConfig,
} from './infra-files';

const TSX = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
const CLI = path.join(REPO_ROOT, 'services/cli/src/main.ts');

export interface Service {
  url: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

function spawned(
  child: ChildProcess,
  url: string,
  port: number,
  stopSignal: NodeJS.Signals = 'SIGTERM',
): Service {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    url,
    port,
    output: () => out,
    stop: () => stopProcess(child, stopSignal, 8000),
  };
}

/** One `rotor worker` process, as an operator starts it (ROTOR_CONFIG, METRICS_PORT). */
export async function startWorkerProcess(configFile: string): Promise<Service> {
  const port = await freePort();
  const child = spawnTracked(TSX, [CLI, 'worker'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ROTOR_CONFIG: configFile,
      METRICS_PORT: String(port),
    },
  });
  const service = spawned(child, `http://127.0.0.1:${port}`, port);
  try {
    await waitForHttp(`${service.url}/healthz`, child);
  } catch (error) {
    await service.stop();
    throw new Error(`${(error as Error).message}\n${service.output()}`);
  }
  return service;
}

export interface PrometheusProcess extends Service {
  /** GET /api/v1/query at the current time. */
  query(expr: string): Promise<PromResponse>;
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
}

export interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * A real Prometheus (Debian package) with the shipped infra/prometheus config and rules, retargeted at
 * local processes: scrape and rule evaluation every second, the same job names, and the alert rules
 * with `for:` set to 0s so an alert fires within the test (its `for:` timing is covered by promtool test rules).
 */
export async function startPrometheus(targets: {
  proxies: string[];
  workers: string[];
}): Promise<PrometheusProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-prometheus-'));
  const shipped = readYaml<PrometheusConfig>(PROMETHEUS_CONFIG);
  const rules = fs.readFileSync(RULES_FILE, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 0s');
  fs.writeFileSync(path.join(dir, 'rotor.rules.yml'), rules);
  const retarget: Record<string, string[]> = {
    'rotor-proxy': targets.proxies,
    'rotor-worker': targets.workers,
    prometheus: [`127.0.0.1:${port}`],
  };
  const config: PrometheusConfig = {
    ...shipped,
    global: { ...shipped.global, scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ['rotor.rules.yml'],
    scrape_configs: shipped.scrape_configs.map((job) => {
      const local = retarget[job.job_name];
      if (!local) throw new Error(`the test does not know scrape job ${job.job_name}`);
      return { ...job, static_configs: [{ targets: local }] };
    }),
  };
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  const child = spawnTracked(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir },
  );
  const url = `http://127.0.0.1:${port}`;
  const service = spawned(child, url, port);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`prometheus exited (${child.exitCode}):\n${service.output()}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`prometheus not ready:\n${service.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ...service,
    query: async (expr) => {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      return (await res.json()) as PromResponse;
    },
    alerts: async () => {
      const res = (await (await fetch(`${url}/api/v1/alerts`)).json()) as {
        data: { alerts: { labels: Record<string, string>; state: string }[] };
      };
      return res.data.alerts;
    },
  };
}

/** Metric family names a /metrics text declares (`# TYPE` lines). */
export async function metricFamilies(metricsUrl: string): Promise<string[]> {
  const text = await (await fetch(metricsUrl)).text();
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
}

/** Metric family names a /metrics text declares (`# TYPE` lines), with the series names histograms add. */
export async function exportedNames(metricsUrl: string): Promise<Set<string>> {
  const text = await (await fetch(metricsUrl)).text();
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
  }
  return names;
}

/**
 * nginx with the SHIPPED infra/nginx/nginx.conf, its upstream servers (compose's proxy-N:8080) and
 * listen port pointed at local processes, its /tmp paths at a private directory.
 */
export async function startShippedNginx(upstreamPorts: number[]): Promise<Service> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-lb-'));
  fs.chmodSync(dir, 0o777);
  const shipped = fs.readFileSync(NGINX_CONFIG, 'utf8');
  const servers = shipped.match(/^\s*server\s+proxy-\d+:\d+;$/gm) ?? [];
  if (servers.length !== upstreamPorts.length) {
    throw new Error(
      `infra/nginx/nginx.conf has ${servers.length} upstream servers, the test runs ${upstreamPorts.length} replicas`,
    );
  }
  let i = 0;
  const conf = shipped
    .replace(
      /^(\s*)server\s+proxy-\d+:\d+;$/gm,
      (_m, indent: string) => `${indent}server 127.0.0.1:${upstreamPorts[i++]};`,
    )
    .replace(/listen\s+\d+;/, `listen 127.0.0.1:${port};`)
    .replaceAll('/tmp/', `${dir}/`)
    .replace('/dev/stderr', `${dir}/error.log`);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawnTracked('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  const service = spawned(child, `http://127.0.0.1:${port}`, port, 'SIGQUIT');
  try {
    await waitForHttp(`${service.url}/healthz`, child);
  } catch (error) {
    await service.stop();
    const log = fs.existsSync(path.join(dir, 'error.log'))
      ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8')
      : '';
    throw new Error(`${(error as Error).message}\n${service.output()}\n${log}`);
  }
  return service;
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `rotor <args>` as a process (what an operator types), with the topology's config. */
export function rotor(args: string[], configFile: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(TSX, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ROTOR_CONFIG: configFile },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
