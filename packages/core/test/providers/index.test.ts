import { PROVIDER_KINDS, providers } from '../../src/providers';

describe('providers map', () => {
  it.each(PROVIDER_KINDS)('%s is registered under its own kind and sets exactly one credential', (kind) => {
    const provider = providers[kind];
    expect(provider.kind).toBe(kind);
    const headers = provider.credentialHeaders('secret-value');
    expect(Object.keys(headers)).toHaveLength(1);
    expect(Object.keys(headers)[0]).toBe(Object.keys(headers)[0]?.toLowerCase());
  });

  it.each(PROVIDER_KINDS)('%s renders every status Rotor answers with', (kind) => {
    for (const status of [401, 404, 413, 429, 502, 503, 504]) {
      expect(JSON.stringify(providers[kind].errorBody(status, 'msg'))).toContain('"msg"');
    }
  });
});
