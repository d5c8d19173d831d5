import crypto from 'node:crypto';

export { freePort } from './free-port';
export { spawnTracked, stopProcess, exitReason, requireProgram, liveProcesses, MissingProgramError } from './processes';
export { spawnRedis, type RedisProcess, type SpawnRedisOptions } from './redis-server';
export { spawnRedisCluster, type RedisClusterProcess } from './redis-cluster';
export { writeNginxConfig, type NginxSetup } from './nginx-config';

/** URL of the private redis-server the jest global setup started for this run. */
export function testRedisUrl(): string {
  const url = process.env.ROTOR_TEST_REDIS_URL;
  if (!url) throw new Error('ROTOR_TEST_REDIS_URL is not set: run tests through jest (global setup spawns Redis)');
  return url;
}

/** A prefix no other test uses, so tests share one server without seeing each other's keys. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
