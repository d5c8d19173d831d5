import { parseConfig } from '../src/config';
import { resolveDotSegments, routeFor, type RouteMatch } from '../src/routes';

const config = parseConfig(
  {
    pools: {
      openai: { provider: 'openai', keys: 'sk-1' },
      special: { provider: 'openai', baseUrl: 'https://special.test/v1', optional: true },
      anthropic: { provider: 'anthropic', optional: true },
    },
    routes: { '/v1': 'openai', '/v1/special/': 'special', '/anthropic': 'anthropic' },
  },
  {},
);

describe('routeFor', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    ['/v1/chat/completions', 'openai', '/v1', '/chat/completions'],
    ['/v1/chat/completions?stream=true', 'openai', '/v1', '/chat/completions?stream=true'],
    ['/v1', 'openai', '/v1', '/'],
    ['/v1?x=1', 'openai', '/v1', '/?x=1'],
    ['/v1/', 'openai', '/v1', '/'],
    ['/v1/chat/../models', 'openai', '/v1', '/models'],
    ['/v1/./models?a=../..', 'openai', '/v1', '/models?a=../..'],
    ['/v1/special/models', 'special', '/v1/special', '/models'],
    ['/v1/specialist', 'openai', '/v1', '/specialist'],
    ['/anthropic/v1/messages', 'anthropic', '/anthropic', '/v1/messages'],
    ['/v10/chat', undefined, undefined, undefined],
    ['/V1/chat', undefined, undefined, undefined],
    ['/', undefined, undefined, undefined],
    ['/healthz', undefined, undefined, undefined],
  ])('%s', (path, pool, prefix, rest) => {
    const result = routeFor(config, path);
    const match = result.kind === 'match' ? result : undefined;
    expect(match?.pool.name).toBe(pool);
    expect(match?.prefix).toBe(prefix);
    expect(match?.rest).toBe(rest);
  });

  it('a catch-all "/" route takes what nothing longer matched', () => {
    const withRoot = parseConfig(
      { pools: { a: { provider: 'openai', optional: true }, b: { provider: 'gemini', optional: true } }, routes: { '/': 'b', '/v1': 'a' } },
      {},
    );
    expect(withRoot.routes.map((r) => r.prefix)).toEqual(['/v1', '/']);
    expect(routeFor(withRoot, '/v1beta/models')).toMatchObject({ prefix: '/', rest: '/v1beta/models' });
    expect(routeFor(withRoot, '/../x')).toMatchObject({ kind: 'leaves_route', prefix: '/' });
    // Not paths: never routed, not even by the catch-all.
    for (const target of ['*', 'http://127.0.0.1:9/x', 'v1/models']) expect(routeFor(withRoot, target)).toEqual({ kind: 'no_route' });
    expect(routeFor(withRoot, '/v1/models')).toMatchObject({ prefix: '/v1', rest: '/models' });
  });
});

describe('dot segments', () => {
  it.each([
    '/v1/../../x',
    '/v1/..',
    '/v1/%2e%2e/%2e%2e/x',
    '/v1/%2E%2e/x',
    '/v1/..%2f..%2fx',
    '/v1/..%2F..%2Fx',
    '/v1/..%5cx',
    '/v1/..\\x',
    '/v1/chat/../../x',
    '/v1/./../x',
    '/anthropic/../v1/models',
    '/v1/special/../models',
    '/v1/..;/..;/x',
    '/v1/%2e%2e;/%2e%2e;/x',
    '/v1/%252e%252e/%252e%252e/x',
    '/v1/..%255c..%255cx',
    '/v1/%c0%ae%c0%ae/%c0%ae%c0%ae/x',
    '/v1/..%00/..%00/x',
    '/v1/..%20/..%20/x',
    '/v1/%u002e%u002e/%u002e%u002e/x',
  ])('%s leaves its route and is refused', (path) => {
    expect(routeFor(config, path).kind).toBe('leaves_route');
  });

  it('names the route the path tried to leave', () => {
    expect(routeFor(config, '/anthropic/../v1/models')).toMatchObject({ kind: 'leaves_route', prefix: '/anthropic' });
  });

  it.each<[string, string]>([
    ['/chat/completions', '/chat/completions'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/%2e/b', '/a/b'],
    ['/a/b%2f..%2fc', '/a/c'],
    ['/a..b/c.d', '/a..b/c.d'],
    ['/a/.../b', '/a/.../b'],
    ['/files/file-a%2Fb', '/files/file-a%2Fb'],
    ['/files/a%2520b', '/files/a%2520b'],
    ['/a/..;x/b', '/b'],
    ['/a/b/..;/c', '/a/c'],
  ])('%s stays inside as %s', (path, resolved) => {
    expect(resolveDotSegments(path)).toBe(resolved);
  });

  it('a resolved path keeps its query string untouched', () => {
    const match = routeFor(config, '/v1/x/../models?path=../../etc') as RouteMatch;
    expect(match.rest).toBe('/models?path=../../etc');
  });
});
