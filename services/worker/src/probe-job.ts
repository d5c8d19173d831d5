import { providers, type Outcome, type PoolConfig, type PoolKey, type RotorConfig } from '@rotor/core';
import { StoreError, StoreErrorCode, type RedisKeyStore } from '@rotor/redis-store';
import { isProbed } from './delays';
import type { Logger } from './logger';
import type { WorkerMetrics } from './metrics';
import { sendProbe } from './probe-http';
import { buildProbeRequest, probeKindFor } from './probe-request';
import type { ProbeJobData } from './queue';

export interface ProbeContext {
  config: RotorConfig;
  store: RedisKeyStore;
  metrics: WorkerMetrics;
  logger: Logger;
}

/** What became of one probe: the key is settled (no more probes), or it stays out until the next one. */
export type ProbeVerdict =
  | { done: true; why: 'reinstated' | 'gone' | 'in_rotation' | 'operator' | 'not_configured' }
  | { done: false; why: string; next: ProbeJobData };

/**
 * Probes one key: read its current state (it may have changed since the job was scheduled), send the
 * probe that fits why it is out, and act through the store's script (never a raw write):
 * 2xx → reinstate; a bad credential → invalidate (disabled); 429 quota → stays suspended as `quota`;
 * 429 rate, 5xx, timeout, connection error, other 4xx → stays out. Whatever keeps the key out
 * schedules the next probe (the caller doubles the delay). A key suspected invalid on one answer
 * (`suspect_invalid`) is thereby confirmed (disabled) or refuted (back in rotation).
 */
export async function runProbe(ctx: ProbeContext, data: ProbeJobData): Promise<ProbeVerdict> {
  const { pool: poolName, keyId } = data;
  const status = await ctx.store.keyStatus(poolName, keyId);
  if (!status) return { done: true, why: 'gone' };
  if (!isProbed(status.state, status.reason)) {
    return { done: true, why: status.state === 'disabled' ? 'operator' : 'in_rotation' };
  }
  const pool = ctx.config.pools[poolName];
  const key = configuredKey(ctx.config, poolName, keyId);
  if (!pool || !key) {
    ctx.logger.warn({ pool: poolName, keyId }, "probe skipped: the key is not in this worker's config");
    return { done: true, why: 'not_configured' };
  }

  const kind = probeKindFor(status.reason);
  const started = performance.now();
  const outcome = await probeOnce(pool, key.secret, kind, ctx.config.worker.probe.timeoutMs);
  ctx.metrics.probe(poolName, keyId, kind, outcome.kind, (performance.now() - started) / 1000);
  const log = {
    pool: poolName,
    keyId,
    probe: kind,
    result: outcome.kind,
    status: outcome.status,
    was: status.reason,
  };

  try {
    // A listing refused for lack of scope still proves the credential: the provider knew the key.
    const credentialAccepted = kind === 'models' && outcome.kind === 'permission_denied';
    if (outcome.kind === 'success' || credentialAccepted) {
      await ctx.store.setState(poolName, keyId, 'reinstate');
      if (status.reason === 'suspect_invalid') {
        ctx.logger.warn(log, "probe refuted the suspicion: the key is valid, back in rotation; the 401/403 came from the request (the proxy's 'key taken out of rotation' line names its path)");
      } else ctx.logger.info(log, 'probe passed: key back in rotation');
      return { done: true, why: 'reinstated' };
    }
    let reason = status.reason;
    if (outcome.kind === 'invalid_key') {
      await ctx.store.setState(poolName, keyId, 'invalidate', 'invalid_key');
      reason = 'invalid_key';
      if (status.reason !== 'invalid_key')
        ctx.logger.warn(log, 'probe confirmed: the provider refuses the key, disabled');
    } else if (outcome.kind === 'quota_exhausted' && status.state === 'suspended') {
      await ctx.store.setState(poolName, keyId, 'suspend', 'quota');
      reason = 'quota';
    } else if (outcome.kind === 'client_error') {
      ctx.logger.warn(log, `probe refused as a bad request: check pools.${poolName}.probeModel`);
    }
    const attempt = reason === status.reason ? data.attempt + 1 : 0;
    ctx.logger.debug({ ...log, attempt }, 'probe: key stays out');
    return { done: false, why: outcome.kind, next: { pool: poolName, keyId, reason, attempt } };
  } catch (error) {
    // The operator took over (disabled it by hand) or the key left the config while we probed.
    if (error instanceof StoreError) {
      return { done: true, why: error.code === StoreErrorCode.OperatorDisabled ? 'operator' : 'gone' };
    }
    throw error;
  }
}

async function probeOnce(
  pool: PoolConfig,
  secret: string,
  kind: ReturnType<typeof probeKindFor>,
  timeoutMs: number,
): Promise<Outcome> {
  const provider = providers[pool.provider];
  const response = await sendProbe(buildProbeRequest(pool, secret, kind), timeoutMs);
  const nowMs = Date.now();
  if ('failure' in response) return provider.classify({ failure: response.failure, nowMs });
  return provider.classify({
    status: response.status,
    headers: response.headers,
    body: response.body,
    nowMs,
  });
}

/** keyId -> configured key per pool, built once per config object (pools can hold 100k keys). */
const keyIndex = new WeakMap<RotorConfig, Map<string, Map<string, PoolKey>>>();

function configuredKey(config: RotorConfig, pool: string, keyId: string): PoolKey | undefined {
  let index = keyIndex.get(config);
  if (!index) {
    index = new Map(Object.values(config.pools).map((p) => [p.name, new Map(p.keys.map((k) => [k.id, k]))]));
    keyIndex.set(config, index);
  }
  return index.get(pool)?.get(keyId);
}
