/**
 * Rotor's Grafana dashboards as data: ONE list of panels and their PromQL, from which generate.ts writes
 * the provisioned JSON (dashboards/*.json) and which the end-to-end test runs against a live Prometheus
 * scraping real proxies and a worker (every query must parse and return data), so a renamed metric
 * cannot leave a dead panel behind.
 *
 * Conventions: the worker's pool and queue gauges are the same on every worker replica, so they are
 * aggregated with max by (...); counters are summed over replicas. Queries may use the Grafana variables
 * $pool (a regex over pools) and $__rate_interval, nothing else. Per model panels read the `model` label
 * (a model group, bounded); nothing is ever shown per account (unbounded).
 */

export type Unit = 'reqps' | 'ops' | 'percentunit' | 's' | 'short' | 'bytes' | 'none';

export interface Query {
  expr: string;
  /** Grafana legend template, e.g. '{{pool}}'. */
  legend: string;
}

export interface Panel {
  title: string;
  description: string;
  kind: 'timeseries' | 'stat' | 'bargauge';
  unit: Unit;
  queries: Query[];
  /** Stacked areas (counts that add up, e.g. keys per state). */
  stack?: boolean;
  /** Grid width in 24ths (default 12). */
  width?: number;
}

export interface Row {
  title: string;
  panels: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  /** Adds a $pool variable (multi-select over rotor_pool_keys' pools). */
  poolVariable: boolean;
  rows: Row[];
}

const RI = '$__rate_interval';
const q = (expr: string, legend: string): Query => ({ expr, legend });

export const overview: Dashboard = {
  uid: 'rotor-overview',
  title: 'Rotor / Cluster overview',
  description: 'Traffic, answers, retries, exhaustion and the time Rotor adds, over every proxy replica.',
  poolVariable: true,
  rows: [
    {
      title: 'Traffic',
      panels: [
        {
          title: 'Requests per second by pool',
          description: 'Client requests answered (all status classes), summed over replicas.',
          kind: 'timeseries',
          unit: 'reqps',
          queries: [q(`sum by (pool) (rate(rotor_requests_total{pool=~"$pool"}[${RI}]))`, '{{pool}}')],
        },
        {
          title: 'Success ratio by pool',
          description: 'Share of client requests answered 2xx.',
          kind: 'timeseries',
          unit: 'percentunit',
          queries: [
            q(
              `sum by (pool) (rate(rotor_requests_total{pool=~"$pool", status="2xx"}[${RI}])) / sum by (pool) (rate(rotor_requests_total{pool=~"$pool"}[${RI}]))`,
              '{{pool}}',
            ),
          ],
        },
        {
          title: 'Answers by status class',
          description: 'What clients got: 2xx, 4xx (429 = Rotor answered for an exhausted pool), 5xx.',
          kind: 'timeseries',
          unit: 'reqps',
          stack: true,
          queries: [q(`sum by (status) (rate(rotor_requests_total{pool=~"$pool"}[${RI}]))`, '{{status}}')],
        },
        {
          title: 'Requests in flight',
          description: 'Requests the replicas are handling now, by pool.',
          kind: 'timeseries',
          unit: 'short',
          queries: [q(`sum by (pool) (rotor_requests_in_flight{pool=~"$pool"})`, '{{pool}}')],
        },
      ],
    },
    {
      title: 'Rotation',
      panels: [
        {
          title: 'Retries per second',
          description: 'Attempts moved to another key after a 429, a refused key or a retryable failure.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [q(`sum by (pool) (rate(rotor_retries_total{pool=~"$pool"}[${RI}]))`, '{{pool}}')],
        },
        {
          title: 'Exhaustion answers per second by model',
          description:
            "Requests Rotor answered itself (429 with Retry-After, or 503) because no key was available for the request's model group.",
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(
              `sum by (pool, model) (rate(rotor_exhausted_total{pool=~"$pool"}[${RI}]))`,
              '{{pool}} {{model}}',
            ),
          ],
        },
        {
          title: 'Upstream 429s by model and kind',
          description:
            'Per model group: rate = the window clears by itself; quota = the account is out of credit.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(
              `sum by (pool, model, kind) (rate(rotor_upstream_429_total{pool=~"$pool"}[${RI}]))`,
              '{{pool}} {{model}} {{kind}}',
            ),
          ],
        },
        {
          title: 'Keys in rotation',
          description: 'Active keys per pool (from the worker; the same on every worker replica).',
          kind: 'stat',
          unit: 'short',
          queries: [q('max by (pool) (rotor_pool_keys{pool=~"$pool", state="active"})', '{{pool}}')],
        },
      ],
    },
    {
      title: 'Latency',
      panels: [
        {
          title: 'Added latency (time in Rotor)',
          description: 'p50 / p99 of the time a request spends in Rotor itself, upstream time excluded.',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(
              `histogram_quantile(0.5, sum by (le) (rate(rotor_added_latency_seconds_bucket{pool=~"$pool"}[${RI}])))`,
              'p50',
            ),
            q(
              `histogram_quantile(0.99, sum by (le) (rate(rotor_added_latency_seconds_bucket{pool=~"$pool"}[${RI}])))`,
              'p99',
            ),
          ],
        },
        {
          title: 'Upstream latency (to response headers)',
          description:
            'p50 / p99 of one upstream attempt, from sending it to the provider’s response headers.',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(
              `histogram_quantile(0.5, sum by (le) (rate(rotor_upstream_latency_seconds_bucket{pool=~"$pool"}[${RI}])))`,
              'p50',
            ),
            q(
              `histogram_quantile(0.99, sum by (le) (rate(rotor_upstream_latency_seconds_bucket{pool=~"$pool"}[${RI}])))`,
              'p99',
            ),
          ],
        },
      ],
    },
    {
      title: 'Replicas',
      panels: [
        {
          title: 'Proxy replicas up',
          description: 'Scrape targets of job rotor-proxy that answer.',
          kind: 'stat',
          unit: 'short',
          width: 6,
          queries: [q('sum(up{job="rotor-proxy"})', 'up')],
        },
        {
          title: 'Replicas in fallback mode',
          description:
            'Replicas serving from their in-memory rotation because Redis is unavailable (should be 0).',
          kind: 'stat',
          unit: 'short',
          width: 6,
          queries: [q('sum(rotor_fallback_mode)', 'fallback')],
        },
        {
          title: 'Client token refusals per second',
          description: 'Requests refused before any upstream call for a missing or wrong client token.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [q(`sum(rate(rotor_client_auth_failures_total[${RI}]))`, 'refused')],
        },
        {
          title: 'Keys kept in rotation by the per-client limit',
          description:
            "Answers that would have taken a key out of rotation, refused because that client's requests had already taken clientLimits.keysOutPerMinute keys out (a client probing what the keys may not do, or a pool whose keys are all failing). The proxy's warn log names the client id.",
          kind: 'timeseries',
          unit: 'ops',
          queries: [q(`sum by (pool) (rate(rotor_keys_out_refused_total[${RI}]))`, '{{pool}}')],
        },
        {
          title: 'Event loop lag p99 by replica',
          description: 'Node.js event loop delay of each proxy replica.',
          kind: 'timeseries',
          unit: 's',
          queries: [q('max by (instance) (rotor_proxy_nodejs_eventloop_lag_p99_seconds)', '{{instance}}')],
        },
        {
          title: 'Resident memory by replica',
          description: 'RSS of each proxy replica.',
          kind: 'timeseries',
          unit: 'bytes',
          queries: [q('max by (instance) (rotor_proxy_process_resident_memory_bytes)', '{{instance}}')],
        },
      ],
    },
  ],
};

export const keyHealth: Dashboard = {
  uid: 'rotor-keys',
  title: 'Rotor / Pool key health',
  description:
    'Per pool: keys per state over time, buckets per model (cooling, cooldowns, room left), keys out of rotation and why, 429s and outcomes per key.',
  poolVariable: true,
  rows: [
    {
      title: 'States',
      panels: [
        {
          title: 'Keys by state',
          description:
            'active / suspended / disabled over time (stacked: the pool size). Rate limits cool buckets, not keys: see Buckets per model.',
          kind: 'timeseries',
          unit: 'short',
          stack: true,
          queries: [q('max by (state) (rotor_pool_keys{pool=~"$pool"})', '{{state}}')],
        },
        {
          title: 'Keys out of rotation by reason',
          description:
            'Suspended and disabled keys: quota, circuit_open, suspect_invalid, invalid_key, operator.',
          kind: 'timeseries',
          unit: 'short',
          stack: true,
          queries: [q('max by (state, reason) (rotor_pool_keys_out{pool=~"$pool"})', '{{state}} {{reason}}')],
        },
      ],
    },
    {
      title: 'Buckets per model',
      panels: [
        {
          title: 'Buckets per model: cooling and ready',
          description:
            'Rate-limit buckets (account × model group) cooling, per model group: one bucket per account with an active key. All of a group cooling = that model is exhausted (RotorModelExhausted).',
          kind: 'timeseries',
          unit: 'short',
          queries: [
            q(
              'max by (pool, model) (rotor_buckets{pool=~"$pool", state="cooling"})',
              '{{pool}} {{model}} cooling',
            ),
            q(
              'max by (pool, model) (rotor_buckets{pool=~"$pool", state="ready"})',
              '{{pool}} {{model}} ready',
            ),
          ],
        },
        {
          title: 'Cooldown left per model',
          description:
            "Seconds until the model group's last cooling bucket returns by itself (0: none cools).",
          kind: 'timeseries',
          unit: 's',
          queries: [
            q('max by (pool, model) (rotor_bucket_cooldown_seconds{pool=~"$pool"})', '{{pool}} {{model}}'),
          ],
        },
        {
          title: 'Requests left per model',
          description:
            "Requests the model group's buckets have left in their current windows, summed (the provider's last word, less what Rotor handed out since; cooling buckets count 0).",
          kind: 'timeseries',
          unit: 'short',
          queries: [
            q('max by (pool, model) (rotor_bucket_remaining_requests{pool=~"$pool"})', '{{pool}} {{model}}'),
          ],
        },
        {
          title: 'Tokens left per model',
          description:
            "Tokens the model group's buckets have left in their current windows, summed (providers that send token headers only).",
          kind: 'timeseries',
          unit: 'short',
          queries: [
            q('max by (pool, model) (rotor_bucket_remaining_tokens{pool=~"$pool"})', '{{pool}} {{model}}'),
          ],
        },
      ],
    },
    {
      title: 'Keys out of rotation',
      panels: [
        {
          title: 'Suspended / disabled keys: time out',
          description: 'Seconds since a suspended or disabled key left rotation, with its state and reason.',
          kind: 'bargauge',
          unit: 's',
          queries: [
            q(
              'max by (pool, key_id, state, reason) (rotor_key_out_of_rotation_seconds{pool=~"$pool"})',
              '{{pool}} {{key_id}} {{state}} {{reason}}',
            ),
          ],
        },
      ],
    },
    {
      title: 'Per key traffic',
      panels: [
        {
          title: '429s per key',
          description: 'Upstream 429s (rate and quota) per key, over every replica.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(
              `sum by (key_id) (rate(rotor_upstream_attempts_total{pool=~"$pool", outcome=~"rate_limited|quota_exhausted"}[${RI}]))`,
              '{{key_id}}',
            ),
          ],
        },
        {
          title: 'Attempts per key by outcome',
          description: 'Every upstream attempt per key and outcome class: the rotation’s spread.',
          kind: 'timeseries',
          unit: 'ops',
          stack: true,
          queries: [
            q(
              `sum by (key_id, outcome) (rate(rotor_upstream_attempts_total{pool=~"$pool"}[${RI}]))`,
              '{{key_id}} {{outcome}}',
            ),
          ],
        },
      ],
    },
  ],
};

export const worker: Dashboard = {
  uid: 'rotor-worker',
  title: 'Rotor / Worker probes',
  description: 'Probes of keys out of rotation, the probe queue and reconciliation.',
  poolVariable: true,
  rows: [
    {
      title: 'Probes',
      panels: [
        {
          title: 'Probes by result',
          description: 'success brings a key back; anything else keeps it out with a longer delay.',
          kind: 'timeseries',
          unit: 'ops',
          stack: true,
          queries: [
            q(
              `sum by (pool, result) (rate(rotor_probes_total{pool=~"$pool"}[${RI}]))`,
              '{{pool}} {{result}}',
            ),
          ],
        },
        {
          title: 'Probe duration p90',
          description:
            'Time from sending a probe to its answer, by probe kind (models listing / 1-token request).',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(
              `histogram_quantile(0.9, sum by (le, probe) (rate(rotor_probe_duration_seconds_bucket{pool=~"$pool"}[${RI}])))`,
              '{{probe}}',
            ),
          ],
        },
        {
          title: 'Since the last successful probe',
          description: 'Per key, seconds since a probe last found it fit again (max over worker replicas).',
          kind: 'bargauge',
          unit: 's',
          queries: [
            q(
              'time() - max by (pool, key_id) (rotor_probe_last_success_timestamp_seconds{pool=~"$pool"})',
              '{{pool}} {{key_id}}',
            ),
          ],
        },
      ],
    },
    {
      title: 'Queue',
      panels: [
        {
          title: 'Probe jobs by state',
          description: 'delayed = probes waiting for their time; active = running now.',
          kind: 'timeseries',
          unit: 'short',
          queries: [q('max by (state) (rotor_queue_jobs{queue="probes"})', '{{state}}')],
        },
        {
          title: 'Failed and stalled jobs',
          description: 'Job runs that threw, and jobs of dead workers run again (0 when none happened).',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(`sum(rate(rotor_queue_jobs_failed_total[${RI}])) or vector(0)`, 'failed'),
            q(`sum(rate(rotor_queue_jobs_stalled_total[${RI}])) or vector(0)`, 'stalled'),
          ],
        },
        {
          title: 'Since the last reconciliation',
          description: 'Seconds since any worker replica finished a reconciliation sweep.',
          kind: 'stat',
          unit: 's',
          width: 6,
          queries: [q('time() - max(rotor_reconcile_last_run_timestamp_seconds)', 'sweep')],
        },
        {
          title: 'Worker replicas up',
          description: 'Scrape targets of job rotor-worker that answer.',
          kind: 'stat',
          unit: 'short',
          width: 6,
          queries: [q('sum(up{job="rotor-worker"})', 'up')],
        },
      ],
    },
  ],
};

export const redis: Dashboard = {
  uid: 'rotor-redis',
  title: 'Rotor / Redis',
  description: 'The shared state: call latency and volume by operation, errors by service, fallback mode.',
  poolVariable: false,
  rows: [
    {
      title: 'Calls',
      panels: [
        {
          title: 'Redis call latency p99 by op',
          description: 'Key store calls from the proxies (acquire and report are on the request path).',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(
              `histogram_quantile(0.99, sum by (le, op) (rate(rotor_redis_duration_seconds_bucket[${RI}])))`,
              '{{op}}',
            ),
          ],
        },
        {
          title: 'Redis calls per second by op',
          description: 'One script call (or pipeline) each.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [q(`sum by (op) (rate(rotor_redis_duration_seconds_count[${RI}]))`, '{{op}}')],
        },
      ],
    },
    {
      title: 'Errors',
      panels: [
        {
          title: 'Redis errors by service and op',
          description: 'Failed or timed-out Redis calls and connection errors, proxies and workers.',
          kind: 'timeseries',
          unit: 'ops',
          queries: [q(`sum by (job, op) (rate(rotor_redis_errors_total[${RI}]))`, '{{job}} {{op}}')],
        },
        {
          title: 'Fallback mode by replica',
          description: '1 while a replica serves from its in-memory rotation (Redis unavailable).',
          kind: 'timeseries',
          unit: 'none',
          queries: [q('max by (instance) (rotor_fallback_mode)', '{{instance}}')],
        },
      ],
    },
  ],
};

export const DASHBOARDS: readonly Dashboard[] = [overview, keyHealth, worker, redis];

/** Every query of every dashboard, with where it comes from (for tests and tooling). */
export function allQueries(): { dashboard: string; panel: string; expr: string }[] {
  return DASHBOARDS.flatMap((d) =>
    d.rows.flatMap((r) =>
      r.panels.flatMap((p) => p.queries.map((x) => ({ dashboard: d.uid, panel: p.title, expr: x.expr }))),
    ),
  );
}
