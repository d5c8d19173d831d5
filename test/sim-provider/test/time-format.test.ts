import { formatOpenAiDuration, formatRfc3339, startSimProvider } from '../src';
import { call, chatBody, openaiHeaders, parseDuration, RFC3339_MS } from './helpers';

describe('rate-limit header formats', () => {
  it.each([
    [0, '0s'],
    [20, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1200, '1.2s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [90_500, '1m30.5s'],
    [360_000, '6m0s'],
    [3_723_000, '1h2m3s'],
    [0.2, '1ms'], // rounded up: waiting the printed time never arrives early
    [-5, '0s'],
  ])('OpenAI duration %p ms -> %p', (ms, text) => {
    expect(formatOpenAiDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(Math.max(0, Math.ceil(ms)));
  });

  it('Anthropic resets are RFC 3339 UTC with milliseconds', () => {
    const at = Date.UTC(2025, 0, 15, 14, 24, 0, 123);
    expect(formatRfc3339(at)).toBe('2025-01-15T14:24:00.123Z');
    expect(formatRfc3339(at)).toMatch(RFC3339_MS);
  });

  it('a live 60 s window reads like the real API: "59.9xxs" counting down, a 6-minute window "5m59.9xxs"', async () => {
    const minute = await startSimProvider({ keys: { 'sk-format-key-0001': { rpm: 5, tpm: 500 } } });
    const sixMinutes = await startSimProvider({ windowMs: 360_000, keys: { 'sk-format-key-0001': { rpm: 5 } } });
    try {
      const a = await call(`${minute.url}/v1/chat/completions`, { headers: openaiHeaders('sk-format-key-0001'), body: chatBody() });
      const reset = a.headers.get('x-ratelimit-reset-requests') ?? '';
      expect(reset).toMatch(/^(59\.\d{1,3}s|1m0s)$/);
      expect(a.headers.get('x-ratelimit-reset-tokens')).toBe(reset);
      const b = await call(`${sixMinutes.url}/v1/chat/completions`, { headers: openaiHeaders('sk-format-key-0001'), body: chatBody() });
      expect(b.headers.get('x-ratelimit-reset-requests')).toMatch(/^(5m59\.\d{1,3}s|6m0s)$/);
    } finally {
      await minute.close();
      await sixMinutes.close();
    }
  });
});
