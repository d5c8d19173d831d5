import type { IncomingMessage } from 'node:http';
import type { Outcome } from '@rotor/core';
import { accountOf } from '@rotor/core';
import type { Lease } from '@rotor/redis-store';
import type { RelayContext, RelayRequest } from './relay-run';

/**
 * What the relay tells the store about a lease, called one of two ways and never a third:
 * - awaited, where the request goes on to acquire again (a retry, a wait after a 429): the next
 *   acquire, on this replica and on every other, must see the key or its bucket cooling, and an
 *   exhaustion answer must know when it returns;
 * - `detach`ed, where the request ends: the answer to the client never waits for Redis.
 * Neither promise rejects: a failure is logged here (and counted by the store).
 */

/**
 * The outcome of an answered attempt. `line` (for answers that can take a key out) puts the request's
 * method and path in the log, so a key the worker's probe finds valid after all names the path that
 * got it parked.
 */
export function report(ctx: RelayContext, lease: Lease, outcome: Outcome, line?: string): Promise<void> {
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

/** A lease that ended with no answer: given back, nothing recorded against the key. */
export function release(ctx: RelayContext, lease: Lease): Promise<void> {
  return ctx.store.release(lease).then(
    () => undefined,
    (error: unknown) => {
      ctx.logger.warn({ pool: lease.pool, keyId: lease.keyId, err: errorMessage(error) }, 'lease release failed');
    },
  );
}

/**
 * Lets a report or release finish off the response's critical path, where nothing that follows in
 * this request reads what it writes. Only for `report` and `release`, which never reject: nothing is
 * lost by not waiting. The one place the relay leaves a promise unawaited.
 */
export function detach(settling: Promise<void>): void {
  // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the one sanctioned detach (see above)
  void settling;
}

/** `POST /v1/chat/completions`, without the query string (it may carry anything), at most 200 chars. */
export function requestLine(req: IncomingMessage, request: RelayRequest): string {
  const queryAt = request.path.indexOf('?');
  const path = queryAt < 0 ? request.path : request.path.slice(0, queryAt);
  return `${req.method} ${request.route === '/' ? '' : request.route}${path}`.slice(0, 200);
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
