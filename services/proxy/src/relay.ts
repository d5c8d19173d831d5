import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Outcome, PoolConfig, PoolKey, Provider, RotorConfig } from '@rotor/core';
import { accountOf, agedOutcome, isRotorError, modelGroupOf, providers, readRequestCost } from '@rotor/core';
import type { AcquireResult, KeyStore, Lease } from '@rotor/redis-store';
import type { Logger } from './logger';
import { clientResponseHeaders, upstreamPath, upstreamRequestHeaders } from './header-hygiene';
import { readCapped } from './read-capped';
import { sendRotorError } from './error-response';
import { scrubBody, scrubHeaders } from './scrub';
import { streamToClient } from './stream-response';
import type { Upstream } from './upstream';
import type { ProxyMetrics } from './metrics';

const ERROR_BODY_CAP = 64 * 1024;
/**
 * A key that returns this soon (typically one whose budget is only uncertain while answers are in
 * flight) is worth waiting for whatever the pool's maxWaitMs says: a short wait beats a 429. Bounded
 * in total per request.
 */
const SETTLE_WAIT_MS = 250;
const SETTLE_BUDGET_MS = 1000;
/**
 * While it has waited less than this, a request leaves keys that were never answered (nothing known of
 * their budget) to their one request in flight (the store's first-answer gate); after that it takes
 * them anyway: the gate delays a request on a cold pool, it never refuses one. A pool that may wait
 * (maxWaitMs) holds gated requests for its whole wait budget instead: an LLM's first answer takes
 * seconds, and a burst sent before it would meet the provider's 429s.
 */
const FIRST_ANSWER_WAIT_MS = SETTLE_BUDGET_MS - SETTLE_WAIT_MS;
/**
 * A request of a pool that may wait is not answered with an upstream 429 while its wait budget lasts:
 * the key cools and the request waits for a key again. Such attempts are bounded too (a provider whose
 * 429s name no wait must not be met in a loop): at most this many times `retry.maxAttempts`.
 */
const WAITING_ATTEMPTS_FACTOR = 4;

export interface RelayContext {
  config: RotorConfig;
  store: KeyStore;
  logger: Logger;
  metrics: ProxyMetrics;
  upstreams: Map<string, Upstream>;
  /** pool -> key id -> configured key (secret and headers), for this replica's config in force. */
  keys: Map<string, Map<string, PoolKey>>;
  /** A report moved a key to suspended / disabled: the worker should probe it. */
  onKeyParked?: (pool: string, keyId: string, state: string, reason: string) => void;
}

export interface RelayRequest {
  pool: PoolConfig;
  /** Path + query to append to the pool's base URL. */
  path: string;
  body?: Buffer;
  route: string;
  /** The client's id (`c_…`, never its token): it bounds how many keys its requests take out. */
  client?: string;
}

/**
 * One client request: acquire a key (one Redis round trip), forward, classify, report (off the
 * critical path), and retry on another key only while nothing has reached the client and only where
 * it is safe. All keys out → 429 with Retry-After, or wait up to the pool's maxWaitMs.
 */
export async function relay(ctx: RelayContext, req: IncomingMessage, res: ServerResponse, request: RelayRequest): Promise<void> {
  const { pool } = request;
  const provider = providers[pool.provider];
  const { retry, timeouts } = ctx.config;
  const clientHeaders = req.headers;
  const tried: string[] = [];
  // Never handed out again in this request, except keys that met a 429 and have cooled since (below).
  const exclude = new Set<string>();
  const rateLimited = new Set<string>();
  let waitingAttempts = 0;
  const gateForMs = Math.max(FIRST_ANSWER_WAIT_MS, pool.maxWaitMs - SETTLE_WAIT_MS);
  const forwardedPath = upstreamPath(request.path);
  // What the provider will count this request for (prompt + output limit), reserved at each hand-out
  // from the bucket of the model group it names.
  const { tokens, model } = readRequestCost(pool.provider, request.path, request.body, pool.defaultOutputTokens);
  const group = modelGroupOf(pool, model);
  const started = performance.now();
  let upstreamMs = 0;
  let proxyReq: ClientRequest | undefined;
  let clientGone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    proxyReq?.destroy();
  });
  ctx.metrics.track(pool.name, res);
  const finish = (status: number) =>
    ctx.metrics.request(pool.name, request.route, status, performance.now() - started - upstreamMs);

  let attempt = 0;
  while (attempt < retry.maxAttempts && !clientGone) {
    let acquired: AcquireResult;
    try {
      const firstAnswerGate = performance.now() - started < gateForMs;
      acquired = await ctx.store.acquire(pool.name, {
        exclude: [...exclude],
        firstAnswerGate,
        tokens,
        group,
        ...(request.client !== undefined ? { client: request.client } : {}),
      });
    } catch (error) {
      // Redis unreachable with redis.failurePolicy fail-closed: a clear 503, nothing sent upstream.
      if (!isRotorError(error)) throw error;
      return finish(sendRotorError(res, provider, error.code, error.message, error.retryAfterMs));
    }
    if (!acquired.ok) {
      const waited = performance.now() - started;
      const wait = acquired.waitMs;
      const worthWaiting =
        wait !== undefined &&
        (waited + wait <= pool.maxWaitMs || (wait <= SETTLE_WAIT_MS && waited + wait <= SETTLE_BUDGET_MS));
      if (worthWaiting) {
        await new Promise((resolve) => setTimeout(resolve, acquired.waitMs));
        // A key that answered 429 is back once its cooldown is over: it may serve this request now.
        for (const id of rateLimited) exclude.delete(id);
        rateLimited.clear();
        continue;
      }
      ctx.metrics.exhausted(pool.name, group);
      const status = sendExhausted(res, provider, pool, acquired.waitMs, tried.length > 0);
      return finish(status);
    }
    attempt++;
    const { lease } = acquired;
    tried.push(lease.keyId);
    exclude.add(lease.keyId);
    if (attempt > 1) ctx.metrics.retry(pool.name);
    const key = ctx.keys.get(pool.name)?.get(lease.keyId);
    if (key === undefined) {
      // Redis holds a key this replica's config does not (a reload in progress elsewhere): skip it.
      release(ctx, lease);
      continue;
    }
    const { secret } = key;

    const sentAt = performance.now();
    const result = await ctx.upstreams.get(pool.name)!.attempt(
      req,
      res,
      {
        path: forwardedPath,
        headers: upstreamRequestHeaders(clientHeaders, provider.credentialHeaders(secret), request.body?.length, key.headers),
        ...(request.body ? { body: request.body } : {}),
        headersTimeoutMs: timeouts.headersMs,
      },
      (outgoing) => {
        proxyReq = outgoing;
      },
    );
    upstreamMs += performance.now() - sentAt;
    ctx.metrics.upstream(pool.name, performance.now() - sentAt);

    if (clientGone) {
      // The client left: nothing the provider said (if it said anything) reaches anyone. The budget
      // its headers name is still true; without an answer nothing is recorded against the key.
      if (result.kind === 'response') {
        const { response } = result;
        response.destroy();
        const learned = provider.classify({ status: response.statusCode ?? 502, headers: response.headers, nowMs: Date.now() });
        report(ctx, lease, { ...learned, kind: 'client_error' });
      } else release(ctx, lease);
      return finish(499);
    }

    if (result.kind === 'not_forwarded') {
      // Rotor itself did not send it (nothing reached the provider): the key is not to blame.
      release(ctx, lease);
      ctx.logger.error({ pool: pool.name, err: result.reason }, 'request not forwarded');
      return finish(sendRotorError(res, provider, 'internal', 'Rotor could not forward the request'));
    }

    if (result.kind === 'failure') {
      const outcome = provider.classify({ failure: result.failure, nowMs: Date.now() });
      ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
      await report(ctx, lease, outcome);
      const safe = result.refused || (retry.onTimeout && result.failure === 'timeout');
      if (safe && attempt < retry.maxAttempts) continue;
      const code = result.failure === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable';
      const message =
        result.failure === 'timeout'
          ? `the provider sent no response within ${timeouts.headersMs} ms`
          : `the provider could not be reached (${result.code})`;
      return finish(sendRotorError(res, provider, code, message));
    }

    const { response } = result;
    const status = response.statusCode ?? 502;
    // Some providers quote the key in an error body: none of the pool's secrets is passed on.
    const poolSecrets = () => [...(ctx.keys.get(pool.name)?.values() ?? [])].map((k) => k.secret);
    if (status < 100 || status > 599) {
      // Not HTTP (writeHead would throw): the provider's fault, counted against the key like a 5xx.
      response.destroy();
      const outcome: Outcome = { kind: 'server_error', status, rateLimit: {} };
      ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
      void report(ctx, lease, outcome);
      return finish(sendRotorError(res, provider, 'upstream_unreachable', `the provider answered with an invalid status (${status})`));
    }
    const stream = (outcome: Outcome, prefix?: Buffer) => {
      // Reported when the body ends (seconds later for a streamed answer): the header's times are aged
      // by then, so that a reset is anchored to when it was read, not to the end of the stream.
      const readAt = performance.now();
      streamToClient(response, res, {
        lease,
        outcome,
        attempts: tried.length,
        provider,
        secret,
        exposeAccountHeaders: pool.exposeAccountHeaders,
        idleMs: timeouts.idleMs,
        ...(prefix ? { prefix } : {}),
        onDone: (final) => void report(ctx, lease, agedOutcome(final, performance.now() - readAt)),
      });
    };
    if (status >= 300 && status < 400 && response.headers.location !== undefined) {
      // Returned, never followed, and without its Location: a client (or its SDK) would otherwise
      // follow it, with its Rotor token, to wherever the provider (or whoever answers for it) points.
      const { chunks } = await readCapped(response, ERROR_BODY_CAP);
      response.destroy();
      const learned = provider.classify({ status, headers: response.headers, nowMs: Date.now() });
      ctx.metrics.attempt(pool.name, lease.keyId, 'client_error', lease.group);
      void report(ctx, lease, { ...learned, kind: 'client_error' });
      const headers = clientResponseHeaders(scrubHeaders(response.headers, poolSecrets()), pool.exposeAccountHeaders);
      delete headers.location;
      delete headers['content-location'];
      delete headers['content-length'];
      res.writeHead(status, { ...headers, 'x-rotor-redirect': 'not-followed', 'x-rotor-attempts': String(tried.length) });
      res.end(scrubBody(Buffer.concat(chunks), poolSecrets()));
      return finish(status);
    }
    if (status < 400) {
      const outcome = provider.classify({ status, headers: response.headers, nowMs: Date.now() });
      ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
      stream(outcome);
      return finish(status);
    }

    const { chunks, complete } = await readCapped(response, ERROR_BODY_CAP);
    const raw = Buffer.concat(chunks);
    const outcome = provider.classify({ status, headers: response.headers, body: raw.toString('utf8'), nowMs: Date.now() });
    const secrets = poolSecrets();
    const body = scrubBody(raw, secrets);
    ctx.metrics.attempt(pool.name, lease.keyId, outcome.kind, lease.group);
    const keyProblem = outcome.kind === 'rate_limited' || outcome.kind === 'quota_exhausted' || outcome.kind === 'invalid_key';
    const retryable = keyProblem || (outcome.kind === 'server_error' && retry.on5xx);
    const mayWait =
      outcome.kind === 'rate_limited' &&
      pool.maxWaitMs > 0 &&
      performance.now() - started < pool.maxWaitMs &&
      waitingAttempts < retry.maxAttempts * WAITING_ATTEMPTS_FACTOR;
    if (complete && mayWait) {
      // The key cools (the report is awaited: the next acquire must see it) and this request waits
      // for a key within its budget, as if it had found the pool cooling: the attempt is not charged.
      await report(ctx, lease, outcome, requestLine(req, request));
      waitingAttempts++;
      attempt--;
      rateLimited.add(lease.keyId);
      continue;
    }
    if (complete && retryable && attempt < retry.maxAttempts) {
      // Awaited on this (already slow) path: the next acquire, here and on every replica, must see
      // this key cooling, and an exhaustion answer must know when it returns.
      await report(ctx, lease, outcome, requestLine(req, request));
      continue;
    }
    if (!complete) {
      response.headers = scrubHeaders(response.headers, secrets);
      stream(outcome, body);
      return finish(status);
    }
    report(ctx, lease, outcome, requestLine(req, request));
    if (outcome.kind === 'invalid_key') {
      // The pool's key was refused, not the client: and providers echo part of the key in that body.
      const message = `the provider refused the key(s) of pool "${pool.name}" (${status})`;
      return finish(sendRotorError(res, provider, 'upstream_unreachable', message));
    }
    res.writeHead(status, {
      ...clientResponseHeaders(scrubHeaders(response.headers, secrets), pool.exposeAccountHeaders),
      'x-rotor-attempts': String(tried.length),
    });
    res.end(body);
    return finish(status);
  }
  if (!res.headersSent && !clientGone) {
    finish(sendRotorError(res, provider, 'upstream_unreachable', 'no key of this pool could serve the request'));
  }
}

function sendExhausted(
  res: ServerResponse,
  provider: Provider,
  pool: PoolConfig,
  waitMs: number | undefined,
  afterRetry: boolean,
): number {
  if (waitMs === undefined) {
    // Nothing returns by itself (keys suspended, disabled, or already tried by this request).
    const why =
      pool.keys.length === 0
        ? 'the pool has no keys (optional: true)'
        : afterRetry
          ? 'the keys left were tried and refused'
          : 'all keys are suspended or disabled';
    return sendRotorError(res, provider, 'no_usable_keys', `no key of pool "${pool.name}" is usable: ${why}`);
  }
  return sendRotorError(
    res,
    provider,
    'keys_exhausted',
    `all keys of pool "${pool.name}" are rate limited; the first returns in ${Math.ceil(waitMs / 1000)} s`,
    waitMs,
  );
}

/**
 * Reports are off the success path: the response never waits for them; failures are only logged and
 * counted. The returned promise never rejects. `line` (for answers that can take a key out) puts the
 * request's method and path in the log, so a key the worker's probe finds valid after all names the
 * path that got it parked.
 */
function report(ctx: RelayContext, lease: Lease, outcome: Outcome, line?: string): Promise<void> {
  // The organization the answer names is learned for the key (its bucket is the organization's).
  const account = accountOf(outcome, ctx.config.pools[lease.pool]?.accountScope ?? 'organization');
  return ctx.store.report(lease, outcome, account).then(
    (result) => {
      if (!result) return;
      const who = { pool: lease.pool, keyId: lease.keyId, client: lease.client };
      if (result.refused) {
        ctx.metrics.keysOutRefused(lease.pool);
        ctx.logger.warn(
          { ...who, outcome: outcome.kind, status: outcome.status, request: line },
          "key left in rotation: this client's requests already took out clientLimits.keysOutPerMinute keys",
        );
      }
      if (result.changed && (result.state === 'suspended' || result.state === 'disabled')) {
        ctx.logger.warn(
          { ...who, state: result.state, reason: result.reason, status: outcome.status, request: line },
          'key taken out of rotation',
        );
        ctx.onKeyParked?.(lease.pool, lease.keyId, result.state, result.reason);
      }
    },
    (error: unknown) => {
      ctx.logger.warn({ pool: lease.pool, keyId: lease.keyId, err: errorMessage(error) }, 'outcome report failed');
    },
  );
}

/** A lease that ended with no answer: given back, nothing recorded against the key. Never rejects. */
function release(ctx: RelayContext, lease: Lease): void {
  ctx.store.release(lease).catch((error: unknown) => {
    ctx.logger.warn({ pool: lease.pool, keyId: lease.keyId, err: errorMessage(error) }, 'lease release failed');
  });
}

/** `POST /v1/chat/completions`, without the query string (it may carry anything), at most 200 chars. */
function requestLine(req: IncomingMessage, request: RelayRequest): string {
  const queryAt = request.path.indexOf('?');
  const path = queryAt < 0 ? request.path : request.path.slice(0, queryAt);
  return `${req.method} ${request.route === '/' ? '' : request.route}${path}`.slice(0, 200);
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
