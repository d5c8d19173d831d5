import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import {
  StoreError,
  StoreErrorCode,
  type BucketSnapshot,
  type KeyAction,
  type KeySnapshot,
  type PoolSnapshot,
} from '@rotor/redis-store';
import { ClientAuth } from './client-auth';
import type { RelayContext } from './relay';

/** Where the admin API is mounted. It is matched before any route, so no pool route can shadow it. */
export const ADMIN_PREFIX = '/admin';

/** Operator actions the admin API and `rotor keys` offer (all through the store's setState script). */
export const OPERATOR_ACTIONS = ['disable', 'enable', 'clear'] as const satisfies readonly KeyAction[];
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** A pool snapshot as the admin API and `rotor status --json` show it: keys, buckets, groups, counts. */
export interface PoolStatus extends PoolSnapshot {
  /** Keys per state, 0s included. */
  counts: Record<KeySnapshot['state'], number>;
  /** Buckets (account × model group) per state, 0s included. */
  bucketCounts: Record<BucketSnapshot['state'], number>;
}

export function poolStatus(snapshot: PoolSnapshot): PoolStatus {
  const counts = { active: 0, suspended: 0, disabled: 0 };
  for (const key of snapshot.keys) counts[key.state] += 1;
  const bucketCounts = { ready: 0, cooling: 0 };
  for (const bucket of snapshot.buckets) bucketCounts[bucket.state] += 1;
  return { ...snapshot, counts, bucketCounts };
}

/**
 * The admin API (JSON), for operators and tooling:
 *
 *   GET  /admin/pools                                   every configured pool (PoolStatus): its keys,
 *                                                       its buckets (account × model group: budgets,
 *                                                       cooldowns), its model groups, counts of both
 *   GET  /admin/pools/:pool                             one pool
 *   POST /admin/pools/:pool/keys/:keyId/disable         take a key out until enabled
 *   POST /admin/pools/:pool/keys/:keyId/enable          back in rotation from any state (and clear)
 *   POST /admin/pools/:pool/keys/:keyId/clear           end the cooldowns of the key's account's buckets
 *                                                       now, in every model group, forgetting the
 *                                                       budgets they learned (the account's other keys
 *                                                       return too); changed: false when none cooled
 *                                                       or the key is not active
 *
 * Every route needs `Authorization: Bearer <adminToken>` (compared in constant time): no token or an
 * unknown one → 401; a client token → 403; no `adminToken` configured → 403 on every route (the API is off).
 */
export function adminRouter(ctx: RelayContext): Router {
  const router = express.Router();
  let auth:
    { token: string | undefined; admin: ClientAuth; clients: ClientAuth; clientTokens: string[] } | undefined;
  // A reload swaps ctx.config: the tokens are read from it per request.
  const current = () => {
    const { adminToken, clientTokens } = ctx.config;
    if (!auth || auth.token !== adminToken || auth.clientTokens !== clientTokens) {
      auth = {
        token: adminToken,
        admin: new ClientAuth(adminToken ? [adminToken] : []),
        clients: new ClientAuth(clientTokens),
        clientTokens,
      };
    }
    return auth;
  };

  router.use((req: Request, res: Response, next: NextFunction) => {
    const { token, admin, clients } = current();
    if (!token) return fail(res, 403, 'admin_disabled', 'the admin API is off: set adminToken in the config');
    const presented = bearer(req.headers.authorization);
    if (!presented)
      return fail(res, 401, 'unauthorized', 'admin token required: Authorization: Bearer <adminToken>');
    // Both checks always run, so timing does not tell a client token from an unknown one.
    const isAdmin = admin.accepts(presented);
    const isClient = clients.accepts(presented);
    if (isAdmin) return next();
    if (isClient) return fail(res, 403, 'forbidden', 'a client token cannot use the admin API');
    return fail(res, 401, 'unauthorized', 'invalid admin token');
  });

  router.get('/pools', async (_req, res, next) => {
    try {
      const pools = Object.keys(ctx.config.pools);
      const snapshots = await Promise.all(pools.map((pool) => ctx.store.snapshot(pool)));
      res.json({ pools: snapshots.map(poolStatus) });
    } catch (error) {
      next(error);
    }
  });

  router.get('/pools/:pool', async (req, res, next) => {
    const pool = String(req.params.pool);
    if (!ctx.config.pools[pool]) return fail(res, 404, 'not_found', `no pool "${pool}" in the config`);
    try {
      res.json(poolStatus(await ctx.store.snapshot(pool)));
    } catch (error) {
      next(error);
    }
  });

  for (const action of OPERATOR_ACTIONS) {
    router.post(`/pools/:pool/keys/:keyId/${action}`, async (req, res, next) => {
      const pool = String(req.params.pool);
      const keyId = String(req.params.keyId);
      if (!ctx.config.pools[pool]) return fail(res, 404, 'not_found', `no pool "${pool}" in the config`);
      try {
        const result = await ctx.store.setState(pool, keyId, action);
        ctx.logger.info(
          { pool, keyId, action, state: result.state, changed: result.changed },
          'admin key action',
        );
        res.json({ pool, keyId, action, ...result });
      } catch (error) {
        if (error instanceof StoreError && error.code === StoreErrorCode.UnknownKey) {
          return fail(res, 404, 'not_found', `no key "${keyId}" in pool "${pool}"`);
        }
        next(error);
      }
    });
  }

  router.use((_req: Request, res: Response) => fail(res, 404, 'not_found', 'no such admin route'));
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'admin request failed');
    fail(res, 503, 'store_unavailable', 'the key store did not answer');
  });
  return router;
}

function bearer(header: string | undefined): string | undefined {
  if (!header || !/^bearer\s+/i.test(header)) return undefined;
  return header.replace(/^bearer\s+/i, '').trim() || undefined;
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
