import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

/**
 * Holds a connection's writes that nobody waits for (reports, releases) in the socket until the
 * event-loop turn ends or a call somebody waits for (an acquire) goes out, so a burst of answers costs
 * one socket write, not one per answer: each write is a syscall on the replica and a read on Redis, and
 * at 0 ms upstream they were the largest single item of a replica's CPU on Redis (bench profile:
 * `writeUtf8String` from ioredis, ~12 % of its CPU). Unlike ioredis auto-pipelining, nothing is held
 * behind a batch in flight, and an acquire is held only while the event loop is saturated
 * (RedisKeyStore): otherwise it leaves at once, with whatever reports were waiting ahead of it (Redis
 * runs them in the order they were sent either way).
 *
 * Cluster clients write to one socket per node: their writes are left as they are.
 */
export class WriteCoalescer {
  private static readonly byConnection = new WeakMap<Redis | Cluster, WriteCoalescer>();

  /** The one coalescer of a connection: stores sharing a client must share its cork, or one's acquire would leave another's reports held. */
  static of(redis: Redis | Cluster): WriteCoalescer {
    let coalescer = WriteCoalescer.byConnection.get(redis);
    if (!coalescer) {
      coalescer = new WriteCoalescer(redis);
      WriteCoalescer.byConnection.set(redis, coalescer);
    }
    return coalescer;
  }

  private held: Socket | undefined;
  private endOfTurn: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `lazyMs`: how long holdLazily() may keep writes back when no acquire comes to take them along. */
  private constructor(
    private readonly redis: Redis | Cluster,
    private readonly lazyMs = 2,
  ) {}

  /** Call before sending a command nobody waits for now: it leaves at the end of this turn at the latest. */
  hold(): void {
    if (!this.cork()) return;
    this.endOfTurn ??= setImmediate(() => this.flush());
  }

  /**
   * As hold(), for a command whose reply nobody needs soon (a success's report): it leaves with the
   * next acquire, or after `lazyMs`. Under load that is the next request's write, so a request costs
   * Redis one wake-up, not two (each wake-up is a syscall and, on a VM, an inter-processor interrupt).
   */
  holdLazily(): void {
    if (!this.cork()) return;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.lazyMs);
      this.timer.unref();
    }
  }

  /** Call right after sending a command somebody waits for: it leaves now, with what was held. */
  flush(): void {
    const socket = this.held;
    if (this.endOfTurn) clearImmediate(this.endOfTurn);
    if (this.timer) clearTimeout(this.timer);
    this.endOfTurn = this.timer = undefined;
    if (!socket) return;
    this.held = undefined;
    socket.uncork();
  }

  /** Corks the connection's socket unless it is already; false when it has none to cork now. */
  private cork(): boolean {
    if (this.held) return true;
    if (!('stream' in this.redis) || this.redis.status !== 'ready') return false;
    const socket = this.redis.stream as Socket | undefined;
    if (!socket || typeof socket.cork !== 'function') return false;
    socket.cork();
    this.held = socket;
    return true;
  }
}
