import { parseConfig } from '../src/config';
import { routeFor } from '../src/routes';

const config = parseConfig(
  {
    pools: {
      openai: { provider: 'openai', keys: 'sk-1' },
      special: { provider: 'openai', baseUrl: 'https://special.test/v1' },
      anthropic: { provider: 'anthropic' },
    },
    routes: { '/v1': 'openai', '/v1/special/': 'special', '/anthropic': 'anthropic' },
  },
  {},
);

describe('routeFor', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    ['/v1/chat/completions', 'openai', '/v1', '/chat/completions'],
    ['/v1/chat/completions?stream=true', 'openai', '/v1', '/chat/completions?stream=true'],
    ['/v1', 'openai', '/v1', ''],
    ['/v1?x=1', 'openai', '/v1', '?x=1'],
    ['/v1/special/models', 'special', '/v1/special', '/models'],
    ['/v1/specialist', 'openai', '/v1', '/specialist'],
    ['/anthropic/v1/messages', 'anthropic', '/anthropic', '/v1/messages'],
    ['/v10/chat', undefined, undefined, undefined],
    ['/V1/chat', undefined, undefined, undefined],
    ['/', undefined, undefined, undefined],
    ['/healthz', undefined, undefined, undefined],
  ])('%s', (path, pool, prefix, rest) => {
    const match = routeFor(config, path);
    expect(match?.pool.name).toBe(pool);
    expect(match?.prefix).toBe(prefix);
    expect(match?.rest).toBe(rest);
  });

  it('a catch-all "/" route takes what nothing longer matched', () => {
    const withRoot = parseConfig(
      { pools: { a: { provider: 'openai' }, b: { provider: 'gemini' } }, routes: { '/': 'b', '/v1': 'a' } },
      {},
    );
    expect(withRoot.routes.map((r) => r.prefix)).toEqual(['/v1', '/']);
    expect(routeFor(withRoot, '/v1beta/models')).toMatchObject({ prefix: '/', rest: '/v1beta/models' });
    expect(routeFor(withRoot, '/v1/models')).toMatchObject({ prefix: '/v1', rest: '/models' });
  });
});
