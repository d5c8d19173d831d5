export * from './topology';
export * from './load';
export { startNginx } from './nginx';
export { startProxyProcess } from './proxy-process';
