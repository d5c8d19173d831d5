import { ConfigError } from '../src/config-error';
import { RotorError, isRotorError, rotorError } from '../src/errors';

describe('RotorError', () => {
  it.each([
    ['unauthorized', 401],
    ['forbidden', 403],
    ['not_found', 404],
    ['payload_too_large', 413],
    ['keys_exhausted', 429],
    ['upstream_unreachable', 502],
    ['redis_unavailable', 503],
    ['upstream_timeout', 504],
    ['bad_config', 500],
    ['internal', 500],
  ] as const)('%s -> %d', (code, status) => {
    const err = rotorError(code, 'm');
    expect(err).toBeInstanceOf(RotorError);
    expect(err).toBeInstanceOf(Error);
    expect(err.httpStatus).toBe(status);
    expect(err.operational).toBe(code !== 'internal');
  });

  it('carries retryAfterMs and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = rotorError('keys_exhausted', 'all cooling', { retryAfterMs: 1200, cause });
    expect(err.retryAfterMs).toBe(1200);
    expect(err.cause).toBe(cause);
    expect(isRotorError(err)).toBe(true);
    expect(isRotorError(new Error('x'))).toBe(false);
  });

  it('ConfigError is a bad_config RotorError listing its issues', () => {
    const err = new ConfigError([
      { path: 'port', message: 'bad' },
      { path: 'pools.a.baseUrl', message: 'Invalid url' },
    ]);
    expect(err).toBeInstanceOf(RotorError);
    expect(err.code).toBe('bad_config');
    expect(err.message).toBe('port: bad\npools.a.baseUrl: Invalid url');
  });
});
