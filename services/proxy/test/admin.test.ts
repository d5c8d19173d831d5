import type express from 'express';
import { ADMIN_PREFIX, type PoolStatus } from '../src/admin';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

const ADMIN_TOKEN = 'admin-token-for-tests';

interface AdminRoute {
  method: string;
  path: string;
}

interface LayerLike {
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: LayerLike[] };
}

/**
 * Every route registered under the admin mount of the app the proxy actually serves (Express 5's
 * router stack), not a hand-written list: a route added later is covered by these tests at once.
 */
function adminRoutes(rig: Rig): AdminRoute[] {
  const app = rig.proxy.server.listeners('request')[0] as express.Express;
  const stack = (app.router as unknown as { stack: LayerLike[] }).stack;
  const mounts = stack.filter((layer) => layer.rawPath === ADMIN_PREFIX && layer.handle.stack);
  expect(mounts).toHaveLength(1);
  const routes: AdminRoute[] = [];
  for (const layer of mounts[0]!.handle.stack!) {
    if (!layer.route) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on && method !== '_all')
        routes.push({ method: method.toUpperCase(), path: ADMIN_PREFIX + layer.route.path });
    }
  }
  return routes;
}

function concrete(path: string, rig: Rig): string {
  const keyId = rig.config.pools.openai!.keys[0]!.id;
  return path.replace(':pool', 'openai').replace(':keyId', keyId);
}

async function call(rig: Rig, route: AdminRoute, token?: string): Promise<Response> {
  return fetch(`${rig.proxy.url}${concrete(route.path, rig)}`, {
    method: route.method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

describe('admin API', () => {
  let rig: Rig;
  let off: Rig;
  beforeAll(async () => {
    rig = await startRig({ keys: 3, config: { adminToken: ADMIN_TOKEN } });
    off = await startRig({ keys: 1 });
  });
  afterAll(async () => {
    await rig?.close();
    await off?.close();
  });

  it('refuses a missing token (401), an unknown one (401) and a client token (403) on every registered route', async () => {
    const routes = adminRoutes(rig);
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'GET /admin/pools',
        'GET /admin/pools/:pool',
        'POST /admin/pools/:pool/keys/:keyId/clear',
        'POST /admin/pools/:pool/keys/:keyId/disable',
        'POST /admin/pools/:pool/keys/:keyId/enable',
      ].sort(),
    );
    const before = await rig.proxy.store.snapshot('openai');
    for (const route of routes) {
      const missing = await call(rig, route);
      const unknown = await call(rig, route, 'not-a-token');
      const client = await call(rig, route, CLIENT_TOKEN);
      expect([route.path, missing.status, unknown.status, client.status]).toEqual([
        route.path,
        401,
        401,
        403,
      ]);
      expect(((await client.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    // Nothing was changed by the refused calls, and nothing reached the provider.
    expect((await rig.proxy.store.snapshot('openai')).keys.map((k) => k.state)).toEqual(
      before.keys.map((k) => k.state),
    );
    expect(rig.sim.totals().calls).toBe(0);
  });

  it('the admin token reaches every registered route', async () => {
    for (const route of adminRoutes(rig)) {
      const res = await call(rig, route, ADMIN_TOKEN);
      expect([route.method, route.path, res.status]).toEqual([route.method, route.path, 200]);
    }
  });

  it('with no adminToken configured, every admin route answers 403 (the API is off), whatever the token', async () => {
    for (const route of adminRoutes(off)) {
      for (const token of [undefined, CLIENT_TOKEN, ADMIN_TOKEN]) {
        const res = await call(off, route, token);
        expect([route.path, res.status]).toEqual([route.path, 403]);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('admin_disabled');
      }
    }
  });

  it('snapshot and actions: disable, enable, clear change the shared state; unknown pool / key -> 404', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const [a, b, c] = rig.config.pools.openai!.keys.map((k) => k.id) as [string, string, string];
    const post = (path: string) => fetch(`${rig.proxy.url}${path}`, { method: 'POST', headers: auth });
    const view = async () =>
      (await (await fetch(`${rig.proxy.url}/admin/pools/openai`, { headers: auth })).json()) as PoolStatus;

    const disabled = await post(`/admin/pools/openai/keys/${a}/disable`);
    expect(await disabled.json()).toEqual({
      pool: 'openai',
      keyId: a,
      action: 'disable',
      state: 'disabled',
      changed: true,
    });
    // b and c answer as keys of one organization (as the relay reports answers naming it); a 429 on b
    // cools that account's gpt-4o bucket, which takes c out of gpt-4o's rotation too.
    const lease = async (id: string) => {
      const got = await rig.proxy.store.acquire('openai', {
        group: 'gpt-4o',
        exclude: [a, b, c].filter((k) => k !== id),
      });
      if (!got.ok || got.lease.keyId !== id) throw new Error(`could not lease ${id}`);
      return got.lease;
    };
    await rig.proxy.store.report(
      await lease(c),
      { kind: 'success', status: 200, rateLimit: {} },
      'org-admin',
    );
    await rig.proxy.store.report(
      await lease(b),
      { kind: 'rate_limited', status: 429, rateLimit: { retryAfterMs: 60_000 } },
      'org-admin',
    );
    expect(await rig.proxy.store.acquire('openai', { group: 'gpt-4o' })).toMatchObject({ ok: false });

    const pool = await view();
    expect(pool.pool).toBe('openai');
    expect(pool.counts).toEqual({ active: 2, suspended: 0, disabled: 1 });
    expect(pool.bucketCounts).toEqual({ ready: 0, cooling: 1 });
    expect(pool.groups).toContain('gpt-4o');
    expect(pool.keys.find((k) => k.id === a)).toMatchObject({ state: 'disabled', reason: 'operator' });
    expect(pool.keys.find((k) => k.id === b)).toMatchObject({ state: 'active', account: 'org-admin' });
    expect(pool.keys.find((k) => k.id === c)).toMatchObject({ state: 'active', account: 'org-admin' });
    expect(pool.buckets).toEqual([
      {
        account: 'org-admin',
        group: 'gpt-4o',
        state: 'cooling',
        reason: 'rate_limited',
        until: expect.any(Number),
        inflight: 0,
        lastAt: expect.any(Number),
      },
    ]);
    expect(Math.abs(pool.buckets[0]!.until! - (pool.now + 60_000))).toBeLessThan(2000);

    // clear through any key of the account ends its buckets' cooldowns: c was never answered with a 429.
    expect(await (await post(`/admin/pools/openai/keys/${c}/clear`)).json()).toMatchObject({
      state: 'active',
      changed: true,
    });
    expect((await view()).buckets).toMatchObject([{ account: 'org-admin', group: 'gpt-4o', state: 'ready' }]);
    expect((await view()).bucketCounts).toEqual({ ready: 1, cooling: 0 });
    expect(await rig.proxy.store.acquire('openai', { group: 'gpt-4o' })).toMatchObject({ ok: true });

    const all = (await (await fetch(`${rig.proxy.url}/admin/pools`, { headers: auth })).json()) as {
      pools: { pool: string }[];
    };
    expect(all.pools.map((p) => p.pool).sort()).toEqual(['anthropic', 'openai']);

    const cleared = await post(`/admin/pools/openai/keys/${a}/clear`);
    expect(await cleared.json()).toMatchObject({ state: 'disabled', changed: false }); // clear acts on active keys
    const enabled = await post(`/admin/pools/openai/keys/${a}/enable`);
    expect(await enabled.json()).toMatchObject({ state: 'active', changed: true });

    expect((await post(`/admin/pools/nope/keys/${a}/disable`)).status).toBe(404);
    expect((await post('/admin/pools/openai/keys/k_000000000000/disable')).status).toBe(404);
    expect((await fetch(`${rig.proxy.url}/admin/nothing`, { headers: auth })).status).toBe(404);
  });
});
