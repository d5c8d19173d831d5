import { agedOutcome, type Outcome } from '../src';

describe('agedOutcome', () => {
  const read: Outcome = {
    kind: 'success',
    status: 200,
    rateLimit: { limitRequests: 3, remainingRequests: 1, resetRequestsMs: 1500, remainingTokens: 900, resetTokensMs: 200, retryAfterMs: 1000 },
    account: { organization: 'org-a' },
  };

  it('shortens every relative time by the time since the read, never below 0; counts and the rest stay', () => {
    expect(agedOutcome(read, 400)).toEqual({
      ...read,
      rateLimit: { limitRequests: 3, remainingRequests: 1, resetRequestsMs: 1100, remainingTokens: 900, resetTokensMs: 0, retryAfterMs: 600 },
    });
    expect(read.rateLimit.resetRequestsMs).toBe(1500); // the read outcome is not changed
  });

  it('keeps whole milliseconds, rounded up (elapsed time is measured in fractions)', () => {
    expect(agedOutcome(read, 400.25).rateLimit).toMatchObject({ resetRequestsMs: 1100, resetTokensMs: 0, retryAfterMs: 600 });
  });

  it('adds no time the answer did not name, and no time at all when none has passed', () => {
    expect(agedOutcome({ kind: 'success', rateLimit: { remainingRequests: 2 } }, 300)).toEqual({ kind: 'success', rateLimit: { remainingRequests: 2 } });
    expect(agedOutcome(read, 0)).toBe(read);
  });
});
