export { startProxy, displayUrl, type ProxyHandle, type ProxyOptions } from './server';
export { createLogger, type Logger } from './logger';
export { keySpecs, syncPools } from './pool-sync';
