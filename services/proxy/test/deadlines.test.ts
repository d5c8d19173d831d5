import { Deadlines } from '../src/deadlines';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('Deadlines', () => {
  it('passes answers and errors through; fails only the calls that outlive the limit, in any order', async () => {
    const deadlines = new Deadlines(60, 'no answer in 60 ms');
    const results = await Promise.allSettled([
      deadlines.watch(later(5, 'fast')),
      deadlines.watch(later(200, 'slow')),
      deadlines.watch(Promise.reject(new Error('refused'))),
      deadlines.watch(later(20, 'fast too')),
      deadlines.watch(new Promise(() => {})),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'fast',
      'no answer in 60 ms',
      'refused',
      'fast too',
      'no answer in 60 ms',
    ]);
    deadlines.close();
  });

  it('a call started after others settled gets its own full limit', async () => {
    const deadlines = new Deadlines(80, 'late');
    await deadlines.watch(later(5, 1));
    await later(50, 0);
    const started = performance.now();
    await expect(deadlines.watch(later(60, 'in time'))).resolves.toBe('in time');
    await expect(deadlines.watch(new Promise(() => {}))).rejects.toThrow('late');
    expect(performance.now() - started).toBeGreaterThanOrEqual(60 + 75);
    deadlines.close();
  });

  it('thousands of settled calls leave nothing behind', async () => {
    const deadlines = new Deadlines(30, 'late');
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => deadlines.watch(Promise.resolve(i))));
    }
    await later(40, 0);
    await expect(deadlines.watch(new Promise(() => {}))).rejects.toThrow('late');
    expect((deadlines as unknown as { queue: unknown[]; head: number }).queue.length).toBeLessThanOrEqual(1);
    deadlines.close();
  });
});
