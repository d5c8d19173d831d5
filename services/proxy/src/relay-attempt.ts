import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Outcome, PoolKey, RotorConfig, RotorErrorCode } from '@rotor/core';
import { isRotorError } from '@rotor/core';
import type { Lease } from '@rotor/redis-store';
import { clientResponseHeaders, upstreamRequestHeaders } from './header-hygiene';
import { readCapped } from './read-capped';
import { detach, release, report, requestLine } from './relay-report';
import type { Run } from './relay-run';
import { scrubBody, scrubHeaders } from './scrub';
import type { AttemptResult } from './upstream';

/** An error answer is read ahead up to this, to be classified (and retried) before the client sees it. */
const ERROR_BODY_CAP = 64 * 1024;

/** What one attempt ended in: the loop (relay.ts) goes on, waits, or answers with it. */
export type Step =
  /** Take another key: whatever this attempt reported is in the store already. */
  | { kind: 'retry' }
  /** An upstream 429 on a pool that may wait: the key cools (its report is in), the request waits for a key. */
  | { kind: 'wait'; keyId: string }
  /** No key now: `waitMs` until the first returns, undefined when none returns by itself. */
  | { kind: 'exhausted'; waitMs: number | undefined }
  /** The client left: the lease was given back, or the answer reported as the client's. */
  | { kind: 'client_gone' }
  /** Answer with Rotor's own provider-shaped error. */
  | { kind: 'fail'; code: RotorErrorCode; message: string; retryAfterMs?: number }
  /** Answer with the provider's whole answer, read and scrubbed. */
  | { kind: 'respond'; status: number; headers: OutgoingHttpHeaders; body: Buffer }
  | StreamStep;

/** Commit the provider's answer and stream its body: nothing is retried after this. */
export interface StreamStep {
  kind: 'stream';
  status: number;
  response: IncomingMessage;
  lease: Lease;
  /** The key it was served with, removed from what is streamed. */
  secret: string;
  /** Reported when the body ends (streamToClient may turn it into a timeout or a broken connection). */
  outcome: Outcome;
  /** The part of the body already read. */
  prefix?: Buffer;
}

type Failure = Extract<AttemptResult, { kind: 'failure' }>;

/**
 * The retry rules. A retry goes to another key (the store never hands out a key this request tried),
 * only while nothing has reached the client, and only where sending the request again is safe:
 * - nothing reached the provider (connection refused, host unknown or unreachable): always;
 * - a timeout: the provider may be working on it (and bill it twice): only with `retry.onTimeout`;
 * - any other connection error (a reset): the request may have arrived: never.
 */
function mayRetryFailure(failure: Failure, retry: RotorConfig['retry']): boolean {
  return failure.refused || (retry.onTimeout && failure.failure === 'timeout');
}

/**
 * - The key's problem (rate limited, out of quota, invalid): always, the request was not served.
 * - A 5xx: only with `retry.on5xx` (the provider may have done the work: POST bodies billed twice).
 * - The request's problem (permission denied, any other 4xx): never, another key would be refused too.
 */
function mayRetryAnswer(outcome: Outcome, retry: RotorConfig['retry']): boolean {
  switch (outcome.kind) {
    case 'rate_limited':
    case 'quota_exhausted':
    case 'invalid_key':
      return true;
    case 'server_error':
      return retry.on5xx;
    default:
      return false;
  }
}

/** One attempt: acquire a key (one Redis round trip), forward with it, classify the answer, decide. */
export async function attempt(run: Run): Promise<Step> {
  const { ctx, pool } = run;
  const acquired = await acquire(run);
  if (acquired.kind !== 'leased') return acquired;
  const { lease } = acquired;
  if (run.leased(lease.keyId) > 1) ctx.metrics.retry(pool.name);
  const key = run.key(lease.keyId);
  if (key === undefined) {
    // Redis holds a key this replica's config does not (a reload in progress elsewhere): skip it.
    detach(release(ctx, lease));
    return { kind: 'retry' };
  }
  const result = await forward(run, key);
  if (run.clientGone) return afterClientLeft(run, lease, result);
  switch (result.kind) {
    case 'not_forwarded':
      // Rotor itself did not send it (nothing reached the provider): the key is not to blame.
      detach(release(ctx, lease));
      ctx.logger.error({ pool: pool.name, err: result.reason }, 'request not forwarded');
      return { kind: 'fail', code: 'internal', message: 'Rotor could not forward the request' };
    case 'failure':
      return afterFailure(run, lease, result);
    case 'response':
      return afterResponse(run, lease, key.secret, result.response);
  }
}

async function acquire(run: Run): Promise<{ kind: 'leased'; lease: Lease } | Step> {
  let acquired;
  try {
    acquired = await run.ctx.store.acquire(run.pool.name, {
      exclude: [...run.exclude],
      firstAnswerGate: run.firstAnswerGate(),
      tokens: run.tokens,
      group: run.group,
      ...(run.request.client !== undefined ? { client: run.request.client } : {}),
    });
  } catch (error) {
    // Redis unreachable with redis.failurePolicy fail-closed: a clear 503, nothing sent upstream.
    if (!isRotorError(error)) throw error;
    return { kind: 'fail', code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  return acquired.ok ? { kind: 'leased', lease: acquired.lease } : { kind: 'exhausted', waitMs: acquired.waitMs };
}

/** Sends the request with the key: resolves once the answer's headers are in, or with the failure. */
async function forward(run: Run, key: PoolKey): Promise<AttemptResult> {
  const { ctx, pool, request } = run;
  const sentAt = performance.now();
  const result = await ctx.upstreams.get(pool.name)!.attempt(
    run.req,
    run.res,
    {
      path: run.forwardedPath,
      headers: upstreamRequestHeaders(run.req.headers, run.provider.credentialHeaders(key.secret), request.body?.length, key.headers),
      ...(request.body ? { body: request.body } : {}),
      headersTimeoutMs: run.timeouts.headersMs,
    },
    (outgoing) => {
      run.proxyReq = outgoing;
    },
  );
  const upstreamMs = performance.now() - sentAt;
  run.upstreamMs += upstreamMs;
  ctx.metrics.upstream(pool.name, upstreamMs);
  return result;
}

/**
 * The client left: nothing the provider said (if it said anything) reaches anyone. The budget its
 * headers name is still true; without an answer nothing is recorded against the key.
 */
function afterClientLeft(run: Run, lease: Lease, result: AttemptResult): Step {
  if (result.kind === 'response') {
    const { response } = result;
    response.destroy();
    const learned = run.provider.classify({ status: response.statusCode ?? 502, headers: response.headers, nowMs: Date.now() });
    detach(report(run.ctx, lease, { ...learned, kind: 'client_error' }));
  } else detach(release(run.ctx, lease));
  return { kind: 'client_gone' };
}

async function afterFailure(run: Run, lease: Lease, failure: Failure): Promise<Step> {
  const { ctx, pool } = run;
  const outcome = run.provider.classify({ failure: failure.failure, nowMs: Date.now() });
  ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
  // Awaited, retried or not: a retry must see it, and this path is not hurried (it waited for a
  // timeout, or found nothing listening); a client that tries again at once meets the failure counted.
  await report(ctx, lease, outcome);
  if (mayRetryFailure(failure, run.retry) && run.attemptsLeft()) return { kind: 'retry' };
  if (failure.failure === 'timeout') {
    return { kind: 'fail', code: 'upstream_timeout', message: `the provider sent no response within ${run.timeouts.headersMs} ms` };
  }
  return { kind: 'fail', code: 'upstream_unreachable', message: `the provider could not be reached (${failure.code})` };
}

async function afterResponse(run: Run, lease: Lease, secret: string, response: IncomingMessage): Promise<Step> {
  const { ctx, pool, provider } = run;
  const status = response.statusCode ?? 502;
  if (status < 100 || status > 599) {
    // Not HTTP (writeHead would throw): the provider's fault, counted against the key like a 5xx.
    response.destroy();
    const outcome: Outcome = { kind: 'server_error', status, rateLimit: {} };
    ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
    detach(report(ctx, lease, outcome));
    return { kind: 'fail', code: 'upstream_unreachable', message: `the provider answered with an invalid status (${status})` };
  }
  if (status >= 300 && status < 400 && response.headers.location !== undefined) {
    return redirect(run, lease, response, status);
  }
  if (status < 400) {
    const outcome = provider.classify({ status, headers: response.headers, nowMs: Date.now() });
    ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
    return { kind: 'stream', status, response, lease, secret, outcome };
  }
  return afterErrorAnswer(run, lease, secret, response, status);
}

/**
 * Returned, never followed, and without its Location: a client (or its SDK) would otherwise follow it,
 * with its Rotor token, to wherever the provider (or whoever answers for it) points.
 */
async function redirect(run: Run, lease: Lease, response: IncomingMessage, status: number): Promise<Step> {
  const { ctx, pool } = run;
  const { chunks } = await readCapped(response, ERROR_BODY_CAP);
  response.destroy();
  const learned = run.provider.classify({ status, headers: response.headers, nowMs: Date.now() });
  ctx.metrics.attempt(pool.name, lease.keyId, 'client_error', lease.group);
  detach(report(ctx, lease, { ...learned, kind: 'client_error' }));
  const headers = clientResponseHeaders(scrubHeaders(response.headers, run.poolSecrets()), pool.exposeAccountHeaders);
  delete headers.location;
  delete headers['content-location'];
  delete headers['content-length'];
  return {
    kind: 'respond',
    status,
    headers: { ...headers, 'x-rotor-redirect': 'not-followed', 'x-rotor-attempts': String(run.tried.length) },
    body: scrubBody(Buffer.concat(chunks), run.poolSecrets()),
  };
}

/** 4xx / 5xx: read ahead (up to ERROR_BODY_CAP) and classified; retried, waited out, or passed on. */
async function afterErrorAnswer(run: Run, lease: Lease, secret: string, response: IncomingMessage, status: number): Promise<Step> {
  const { ctx, pool } = run;
  const { chunks, complete } = await readCapped(response, ERROR_BODY_CAP);
  const raw = Buffer.concat(chunks);
  const outcome = run.provider.classify({ status, headers: response.headers, body: raw.toString('utf8'), nowMs: Date.now() });
  const secrets = run.poolSecrets();
  const body = scrubBody(raw, secrets);
  ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
  if (!complete) {
    // Larger than what is read ahead: streamed on, whatever it says, from what was read.
    response.headers = scrubHeaders(response.headers, secrets);
    return { kind: 'stream', status, response, lease, secret, outcome, prefix: body };
  }
  const line = requestLine(run.req, run.request);
  if (outcome.kind === 'rate_limited' && run.mayWaitAfter429()) {
    // The key cools, and the request waits for a key within its budget, as if it had found the pool
    // cooling.
    await report(ctx, lease, outcome, line);
    return { kind: 'wait', keyId: lease.keyId };
  }
  if (mayRetryAnswer(outcome, run.retry) && run.attemptsLeft()) {
    await report(ctx, lease, outcome, line);
    return { kind: 'retry' };
  }
  detach(report(ctx, lease, outcome, line));
  if (outcome.kind === 'invalid_key') {
    // The pool's key was refused, not the client: and providers echo part of the key in that body.
    return { kind: 'fail', code: 'upstream_unreachable', message: `the provider refused the key(s) of pool "${pool.name}" (${status})` };
  }
  return {
    kind: 'respond',
    status,
    headers: { ...clientResponseHeaders(scrubHeaders(response.headers, secrets), pool.exposeAccountHeaders), 'x-rotor-attempts': String(run.tried.length) },
    body,
  };
}
