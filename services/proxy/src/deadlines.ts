interface Pending {
  at: number;
  settled: boolean;
  fail(error: Error): void;
}

/**
 * Fails promises that outlive a fixed limit, with one timer for all of them instead of a timer (and a
 * Promise.race) per call: every call gets the same limit, so deadlines come in call order and only the
 * oldest unsettled one needs watching. Runs twice per proxied request (acquire, report).
 */
export class Deadlines {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limitMs: number,
    /** The message of every rejection (the limit is fixed, so is what it says). */
    private readonly message: string,
  ) {}

  /** `call`, or a rejection once it has taken longer than the limit. */
  watch<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { at: performance.now() + this.limitMs, settled: false, fail: reject };
      this.queue.push(pending);
      this.timer ??= setTimeout(() => this.expire(), this.limitMs).unref();
      call.then(
        (value) => {
          pending.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          pending.settled = true;
          reject(error);
        },
      );
    });
  }

  /** Stops the timer (pending calls then settle on their own only). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const oldest = this.queue[this.head]!;
      if (!oldest.settled && oldest.at > now) break;
      this.head++;
      if (!oldest.settled) {
        oldest.settled = true;
        oldest.fail(new Error(this.message));
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.queue.length) {
      this.timer = setTimeout(() => this.expire(), Math.max(1, this.queue[this.head]!.at - now)).unref();
    }
  }
}
