import { closeAll, countBy, ids, newStore } from './helpers';

afterAll(closeAll);

async function handOut(store: ReturnType<typeof newStore>, pool: string, n: number): Promise<string[]> {
  const picked: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await store.acquire(pool);
    if (!r.ok) throw new Error('expected a key');
    picked.push(r.lease.keyId);
  }
  return picked;
}

describe('round robin', () => {
  it('hands 3 keys out exactly 100 times each in 300 acquires, in rotation', async () => {
    const store = newStore();
    await store.sync('p', ids(3));
    const picked = await handOut(store, 'p', 300);
    expect([...countBy(picked).values()]).toEqual([100, 100, 100]);
    // Strict rotation: no key twice in a row.
    for (let i = 1; i < picked.length; i++) expect(picked[i]).not.toBe(picked[i - 1]);
  });

  it('follows weights 1:2:3 (50/100/150 of 300, ±1)', async () => {
    const store = newStore();
    await store.sync('p', [
      { id: 'w1', weight: 1 },
      { id: 'w2', weight: 2 },
      { id: 'w3', weight: 3 },
    ]);
    const counts = countBy(await handOut(store, 'p', 300));
    expect(Math.abs(counts.get('w1')! - 50)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts.get('w2')! - 100)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts.get('w3')! - 150)).toBeLessThanOrEqual(1);
  });

  it('never hands out a key the request already tried', async () => {
    const store = newStore();
    await store.sync('p', ids(3));
    const first = await store.acquire('p');
    const second = await store.acquire('p', { exclude: ['k00', 'k01'] });
    expect(first.ok && first.lease.keyId).toBe('k00');
    expect(second.ok && second.lease.keyId).toBe('k02');
    const none = await store.acquire('p', { exclude: ['k00', 'k01', 'k02'] });
    expect(none).toEqual({ ok: false });
  });

  it('an unknown pool has no key to give', async () => {
    const store = newStore();
    expect(await store.acquire('nothing-here')).toEqual({ ok: false });
  });
});
