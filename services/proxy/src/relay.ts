import type { IncomingMessage, ServerResponse } from 'node:http';
import { agedOutcome } from '@rotor/core';
import { sendRotorError } from './error-response';
import { attempt, type StreamStep } from './relay-attempt';
import { detach, report } from './relay-report';
import { Run, type RelayContext, type RelayRequest } from './relay-run';
import { streamToClient } from './stream-response';

export type { RelayContext, RelayRequest } from './relay-run';

/**
 * One client request: attempts (acquire a key, forward, classify: relay-attempt.ts) until one answers
 * the client. A retry goes to another key only while nothing has reached the client and only where it
 * is safe; all keys out → 429 with Retry-After, or a wait within the pool's maxWaitMs (relay-run.ts).
 */
export async function relay(ctx: RelayContext, req: IncomingMessage, res: ServerResponse, request: RelayRequest): Promise<void> {
  const run = new Run(ctx, req, res, request);
  const { pool, provider } = run;
  while (run.attemptsLeft() && !run.clientGone) {
    const step = await attempt(run);
    switch (step.kind) {
      case 'retry':
        continue;
      case 'wait':
        run.waitOut429(step.keyId);
        continue;
      case 'exhausted':
        if (step.waitMs !== undefined && run.worthWaiting(step.waitMs)) {
          await new Promise((resolve) => setTimeout(resolve, step.waitMs));
          run.readmitCooled();
          continue;
        }
        ctx.metrics.exhausted(pool.name, run.group);
        return run.finish(sendExhausted(run, step.waitMs));
      case 'client_gone':
        return run.finish(499);
      case 'fail':
        return run.finish(sendRotorError(res, provider, step.code, step.message, step.retryAfterMs));
      case 'respond':
        res.writeHead(step.status, step.headers);
        res.end(step.body);
        return run.finish(step.status);
      case 'stream':
        stream(run, step);
        return run.finish(step.status);
    }
  }
  // Out of attempts on keys this replica does not know (a reload elsewhere), or the client left.
  if (!res.headersSent && !run.clientGone) {
    run.finish(sendRotorError(res, provider, 'upstream_unreachable', 'no key of this pool could serve the request'));
  }
}

/**
 * Commits the provider's answer and streams its body. Its report is detached: it is made when the body
 * ends (seconds later for a streamed answer), when the request is over for the client.
 */
function stream(run: Run, step: StreamStep): void {
  // The header's times are aged by then, so that a reset is anchored to when it was read, not to the
  // end of the stream.
  const readAt = performance.now();
  streamToClient(step.response, run.res, {
    lease: step.lease,
    outcome: step.outcome,
    attempts: run.tried.length,
    provider: run.provider,
    secret: step.secret,
    exposeAccountHeaders: run.pool.exposeAccountHeaders,
    idleMs: run.timeouts.idleMs,
    ...(step.prefix ? { prefix: step.prefix } : {}),
    onDone: (final) => detach(report(run.ctx, step.lease, agedOutcome(final, performance.now() - readAt))),
  });
}

/** No key to hand out and none worth waiting for: 429 with Retry-After, or 503 if none returns by itself. */
function sendExhausted(run: Run, waitMs: number | undefined): number {
  const { pool, provider, res } = run;
  if (waitMs === undefined) {
    // Nothing returns by itself (keys suspended, disabled, or already tried by this request).
    const why =
      pool.keys.length === 0
        ? 'the pool has no keys (optional: true)'
        : run.tried.length > 0
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
