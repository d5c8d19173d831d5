export { startWorker, type WorkerHandle, type WorkerOptions } from './app';
export { ProbeScheduler, type ScheduleResult } from './scheduler';
export { WorkerMetrics } from './metrics';
export { createLogger } from './logger';
export { firstProbeDelay, probeDelay, isProbed } from './delays';
export { PROBE_QUEUE, probeJobId, queuePrefix, type ProbeJobData } from './queue';
export { buildProbeRequest, probeKindFor, type ProbeKind, type ProbeRequest } from './probe-request';
export { sendProbe, type ProbeResponse } from './probe-http';
export { reconcile } from './reconcile';
