export { startProxy, type ProxyHandle, type ProxyOptions } from './server';
export { createLogger, type Logger } from './logger';
export { keySpecs, syncPools } from './pool-sync';
export { ADMIN_PREFIX, OPERATOR_ACTIONS, adminRouter, poolStatus, type OperatorAction, type PoolStatus } from './admin';
export { ProxyMetrics } from './metrics';
export { StreamScrubber } from './stream-scrubber';
