import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../src/proxy-process';

export { REPO_ROOT };
export const INFRA = path.join(REPO_ROOT, 'infra');
export const PROMETHEUS_CONFIG = path.join(INFRA, 'prometheus/prometheus.yml');
export const RULES_FILE = path.join(INFRA, 'prometheus/rules/rotor.rules.yml');
export const NGINX_CONFIG = path.join(INFRA, 'nginx/nginx.conf');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
}

export interface PrometheusConfig {
  global?: Record<string, string>;
  rule_files?: string[];
  scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  [key: string]: unknown;
}

export const readYaml = <T>(file: string): T => parse(fs.readFileSync(file, 'utf8')) as T;

export function alertRules(): AlertRule[] {
  const doc = readYaml<{ groups: { name: string; rules: AlertRule[] }[] }>(RULES_FILE);
  return doc.groups.flatMap((g) => g.rules);
}

/** host:port targets of one scrape job. */
export function scrapeTargets(config: PrometheusConfig, job: string): string[] {
  const scrape = config.scrape_configs.find((s) => s.job_name === job);
  if (!scrape) throw new Error(`no scrape job ${job}`);
  return scrape.static_configs.flatMap((s) => s.targets);
}

/** `server host:port;` lines of the nginx upstream block. */
export function nginxUpstreams(conf: string): string[] {
  const block = /upstream\s+rotor\s*\{([^}]*)\}/.exec(conf)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+([^\s;]+)/gm)].map((m) => m[1]!);
}

/** Grafana variables and PromQL functions the queries may use, as the test feeds them to Prometheus. */
export function concreteQuery(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$pool', '.*');
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'rate',
  'increase',
  'irate',
  'histogram_quantile',
  'time',
  'vector',
  'absent',
  'le',
  'humanize',
  'offset',
  'bool',
]);

/** Metric names a PromQL expression reads (identifiers before `{`, `[`, `)`, an operator or the end). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const withoutGroupings = withoutStrings.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
    '',
  );
  const withoutLabels = withoutGroupings.replace(/\{[^}]*\}/g, '{}');
  for (const m of withoutLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = withoutLabels.slice(m.index! + word.length).trimStart()[0];
    if (PROMQL_WORDS.has(word) || next === '(') continue;
    if (/^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}
