import type { Cluster, Redis } from 'ioredis';

export type RedisConnection = Redis | Cluster;

/** A Redis URL without its password, for messages. */
export function displayRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/**
 * Connects a client made with `lazyConnect`, within `timeoutMs` (connectTimeout covers the TCP
 * connect; a Redis that accepts but never answers would otherwise hang the ready check), or drops it
 * and throws an error that names the URL (never its password) and says what to do.
 */
export async function connectOrExplain(redis: RedisConnection, url: string, timeoutMs: number, hint: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect(), timeout]);
  } catch (error) {
    redis.disconnect();
    throw new Error(`Redis at ${displayRedisUrl(url)} did not answer (${(error as Error).message}). ${hint}`);
  } finally {
    clearTimeout(timer);
  }
}

/** QUIT when Redis answers (pending replies arrive first), else drop the connection: never hangs. */
export async function closeRedis(redis: RedisConnection, timeoutMs = 2000): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), timeoutMs);
  await redis.quit().catch(() => redis.disconnect());
  clearTimeout(timer);
}
