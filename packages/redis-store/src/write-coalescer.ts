import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

/**
 * Holds a connection's writes that nobody waits for (reports, releases) in the socket until the
 * event-loop turn ends or a call somebody waits for (an acquire) goes out, so a burst of answers costs
 * one socket write, not one per answer: each write is a syscall on the replica and a read on Redis, and
 * at 0 ms upstream they were the largest single item of a replica's CPU on Redis (bench profile:
 * `writeUtf8String` from ioredis, ~12 % of its CPU). Unlike ioredis auto-pipelining, nothing is held
 * behind a batch in flight and an acquire is never held at all: it leaves at once, with whatever
 * reports were waiting ahead of it (Redis runs them in the order they were sent either way).
 *
 * Cluster clients write to one socket per node: their writes are left as they are.
 */
export class WriteCoalescer {
  private held: Socket | undefined;

  constructor(private readonly redis: Redis | Cluster) {}

  /** Call before sending a command nobody waits for: later writes of this turn join it. */
  hold(): void {
    if (this.held || !('stream' in this.redis) || this.redis.status !== 'ready') return;
    const socket = this.redis.stream as Socket | undefined;
    if (!socket || typeof socket.cork !== 'function') return;
    socket.cork();
    this.held = socket;
    setImmediate(() => this.flush());
  }

  /** Call right after sending a command somebody waits for: it leaves now, with what was held. */
  flush(): void {
    const socket = this.held;
    if (!socket) return;
    this.held = undefined;
    socket.uncork();
  }
}
