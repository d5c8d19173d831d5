import { ClientAuth } from '../src/client-auth';

/**
 * Case 15: client tokens are compared in constant time. Both sides are hashed (SHA-256) and compared
 * with crypto.timingSafeEqual, so the time of a refusal does not depend on how much of the token a
 * guess got right, nor on the configured token's length. Measured: median time per check for a guess
 * wrong at its first character vs wrong only at its last, interleaved rounds.
 */
describe('ClientAuth', () => {
  const token = 'rotor-client-token-0123456789abcdefghijklmnopqrstuv';
  const auth = new ClientAuth(['another-configured-token', token]);

  it('accepts only an exact configured token', () => {
    expect(auth.accepts(token)).toBe(true);
    expect(auth.accepts('another-configured-token')).toBe(true);
    for (const guess of [undefined, '', token.slice(0, -1), `${token}x`, token.toUpperCase(), ` ${token}`]) expect(auth.accepts(guess)).toBe(false);
  });

  it('a guess right up to its last character takes as long to refuse as one wrong from the first', () => {
    // Flat strings, as a header value arrives (a concatenation would be a rope V8 flattens per call).
    const firstWrong = Buffer.from(`X${token.slice(1)}`).toString();
    const lastWrong = Buffer.from(`${token.slice(0, -1)}X`).toString();
    const perCall = (guess: string, n: number) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) auth.accepts(guess);
      return Number(process.hrtime.bigint() - started) / n;
    };
    perCall(firstWrong, 20_000); // warm up
    perCall(lastWrong, 20_000);
    const first: number[] = [];
    const last: number[] = [];
    for (let round = 0; round < 20; round++) {
      // Alternate which goes first, so drift (CPU frequency, other load) hits both alike.
      if (round % 2 === 0) first.push(perCall(firstWrong, 5000));
      last.push(perCall(lastWrong, 5000));
      if (round % 2 === 1) first.push(perCall(firstWrong, 5000));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(last) / median(first);
    console.log(`constant-time check: median ${median(first).toFixed(0)} ns (wrong at first char) vs ${median(last).toFixed(0)} ns (wrong at last char), ratio ${ratio.toFixed(3)}`);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
