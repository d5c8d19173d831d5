import { createHmac } from 'node:crypto';
import { DEFAULT_KEY_ID_SECRET, keyId } from '../src/key-id';

describe('keyId', () => {
  it('is k_ + 12 hex chars of HMAC-SHA256(idSecret, secret)', () => {
    expect(keyId('sk-test', DEFAULT_KEY_ID_SECRET)).toMatch(/^k_[0-9a-f]{12}$/);
    expect(keyId('sk-test', 'x')).toBe(
      'k_' + createHmac('sha256', 'x').update('sk-test').digest('hex').slice(0, 12),
    );
  });

  it('is stable, depends on both inputs, and never contains the secret', () => {
    const secret = 'sk-proj-abcdef0123456789';
    expect(keyId(secret, 's1')).toBe(keyId(secret, 's1'));
    expect(keyId(secret, 's1')).not.toBe(keyId(secret, 's2'));
    expect(keyId(secret, 's1')).not.toBe(keyId(secret + 'x', 's1'));
    expect(keyId(secret, 's1')).not.toContain(secret.slice(0, 6));
  });
});
