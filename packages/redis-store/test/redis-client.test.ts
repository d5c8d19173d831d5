import { Cluster, Redis } from 'ioredis';
import { createRedisClient } from '../src/redis-client';

/** The URL forms of redis.url, turned into clients (lazyConnect: nothing is dialled). */
describe('createRedisClient', () => {
  it('redis+sentinel://user:pw@a:26379,b:26380/master -> a Sentinel client with every sentinel and the master name', () => {
    const client = createRedisClient({ url: 'redis+sentinel://me:s%40cret@10.0.0.1:26379,10.0.0.2:26380/rotor-primary', lazyConnect: true }) as Redis;
    expect(client).toBeInstanceOf(Redis);
    expect(client.options.sentinels).toEqual([
      { host: '10.0.0.1', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
    ]);
    expect(client.options).toMatchObject({ name: 'rotor-primary', username: 'me', password: 's@cret' });
    client.disconnect();
  });

  it('redis+cluster://a:7000,b:7001 -> a Cluster client with both startup nodes', () => {
    const client = createRedisClient({ url: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7001', lazyConnect: true }) as Cluster;
    expect(client).toBeInstanceOf(Cluster);
    expect((client as unknown as { startupNodes: unknown[] }).startupNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    client.disconnect();
  });

  it('refuses a sentinel URL without a master name, memory:// and unknown schemes', () => {
    expect(() => createRedisClient({ url: 'redis+sentinel://a:26379', lazyConnect: true })).toThrow('master name');
    expect(() => createRedisClient({ url: 'memory://', lazyConnect: true })).toThrow('no Redis');
    expect(() => createRedisClient({ url: 'http://x', lazyConnect: true })).toThrow('unsupported Redis URL scheme');
  });
});
