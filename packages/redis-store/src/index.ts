export {
  poolKeys,
  keyHash,
  ringKey,
  coolingKey,
  accountSet,
  bucketHash,
  bucketInflight,
  ownAccount,
  clientKeysOut,
  replicasKey,
  type PoolKeys,
} from './keys';
export { RedisKeyStore, roundTrips, groupName, accountName, maxGroupsOf, trackedGroups } from './redis-key-store';
export type { KeyStatus, ParkedKey } from './key-reads';
export { createRedisClient, type RedisConnectionOptions } from './redis-client';
export {
  openKeyStore,
  storePolicyFromConfig,
  MEMORY_URL,
  PATIENT_COMMAND_TIMEOUT_MS,
  type OpenKeyStoreOptions,
  type OpenedKeyStore,
  type OpenedRedisStore,
  type OpenedMemoryStore,
} from './open-key-store';
export { closeRedis, connectOrExplain, displayRedisUrl, type RedisConnection } from './redis-connection';
export { preloadScripts, registerScripts, scriptSources, SCRIPT_VERSION } from './scripts';
export { StoreError, StoreErrorCode } from './errors';
export * from './types';
export { MemoryKeyStore, type MemoryStoreOptions } from './memory-key-store';
