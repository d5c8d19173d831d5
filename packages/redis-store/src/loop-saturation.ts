import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** How often the event loop's utilization is read, and above which share of a window it counts as saturated. */
const WINDOW_MS = 100;
const SATURATED = 0.9;

let saturated = false;
let last: EventLoopUtilization | undefined;
let timer: NodeJS.Timeout | undefined;

/**
 * Whether this process's event loop was busy for at least 90 % of the last ~100 ms window: it has more
 * work than it gets through, so requests wait for it anyway and what saves it CPU shortens their wait.
 * Read from `performance.eventLoopUtilization()` by one unref'd timer, started at the first call.
 */
export function eventLoopSaturated(): boolean {
  if (!timer) {
    last = performance.eventLoopUtilization();
    timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      saturated = performance.eventLoopUtilization(now, last).utilization >= SATURATED;
      last = now;
    }, WINDOW_MS);
    timer.unref();
  }
  return saturated;
}
