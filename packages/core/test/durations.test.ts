import {
  parseGoDuration,
  parseHttpDateDelay,
  parseResetDelay,
  parseRetryAfter,
  parseRetryAfterMs,
  parseRfc3339Delay,
} from '../src/durations';

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0); // 2026-11-26T09:00:00Z

describe('parseGoDuration (OpenAI x-ratelimit-reset-*)', () => {
  it.each([
    ['6m0s', 360_000],
    ['1.5s', 1500],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['0s', 0],
    ['0', 0],
    ['59.123s', 59_123],
    ['2m59.56s', 179_560], // Groq
    ['7.66s', 7660],
    ['500us', 1],
    ['500µs', 1],
    ['400ns', 0],
    ['-5s', 0],
    [' 30s ', 30_000],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '5', '5x', 's', '1.5.5s', '1h 2m', 'NaN', '1e3s', '6m0', undefined])(
    'garbage %p -> undefined',
    (text) => {
      expect(parseGoDuration(text)).toBeUndefined();
    },
  );
});

describe('parseRetryAfterMs', () => {
  it.each([
    ['1500', 1500],
    ['0', 0],
    ['12.7', 13],
    ['-20', 0],
  ])('%s -> %d', (text, ms) => expect(parseRetryAfterMs(text)).toBe(ms));
  it.each(['', 'soon', '1e3', '0x10', undefined])('garbage %p -> undefined', (text) => {
    expect(parseRetryAfterMs(text)).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('2', NOW)).toBe(2000);
    expect(parseRetryAfter('0.5', NOW)).toBe(500);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('-3', NOW)).toBe(0);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfter('Thu, 26 Nov 2026 09:00:30 GMT', NOW)).toBe(30_000);
  });

  it('reads the obsolete RFC 850 and asctime forms as GMT', () => {
    expect(parseHttpDateDelay('Thursday, 26-Nov-26 09:01:00 GMT', NOW)).toBe(60_000);
    expect(parseHttpDateDelay('Thu Nov 26 09:00:10 2026', NOW)).toBe(10_000);
  });

  it('clamps a date in the past to 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it.each([
    '',
    'tomorrow',
    '1 hour',
    'Thu, 31 Feb 2026 09:00:00 GMT',
    'Thu, 26 Nov 2026 25:00:00 GMT',
    undefined,
  ])('garbage %p -> undefined', (text) => {
    expect(parseRetryAfter(text, NOW)).toBeUndefined();
  });
});

describe('parseRfc3339Delay (anthropic-ratelimit-*-reset)', () => {
  it.each([
    ['2026-11-26T09:00:30Z', 30_000],
    ['2026-11-26T09:00:00.250Z', 250],
    ['2026-11-26T09:00:01.123456789Z', 1123],
    ['2026-11-26T10:00:30+01:00', 30_000],
    ['2026-11-26T04:00:30-05:00', 30_000],
    ['2026-11-26t09:00:30z', 30_000],
    ['2026-11-26 09:00:30Z', 30_000],
    ['2026-11-26T08:59:00Z', 0], // past
  ])('%s -> %d', (text, ms) => expect(parseRfc3339Delay(text, NOW)).toBe(ms));

  it.each([
    '',
    '2026-11-26',
    '2026-11-26T09:00:30', // no offset: ambiguous
    '2026-13-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-11-26T09:00:30+25:00',
    'Thu, 26 Nov 2026 09:00:30 GMT',
    undefined,
  ])('garbage %p -> undefined', (text) => {
    expect(parseRfc3339Delay(text, NOW)).toBeUndefined();
  });
});

describe('parseResetDelay (OpenAI-compatible hosts)', () => {
  it('prefers a Go duration, then seconds, then Unix time', () => {
    expect(parseResetDelay('1m30s', NOW)).toBe(90_000);
    expect(parseResetDelay('12', NOW)).toBe(12_000);
    expect(parseResetDelay(String(NOW / 1000 + 5), NOW)).toBe(5000);
    expect(parseResetDelay(String(NOW + 750), NOW)).toBe(750);
    expect(parseResetDelay('later', NOW)).toBeUndefined();
  });
});
