/**
 * The part of a Redis ZSET the in-memory store needs: members ordered by (score, member) exactly as
 * Redis orders them, with O(log n) add / update / remove and O(k log k) for the k lowest. An indexed
 * binary heap: `index` maps a member to its slot so any member can be moved or removed.
 */
export class SortedSet {
  private readonly heap: { member: string; score: number }[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.heap.length;
  }

  has(member: string): boolean {
    return this.index.has(member);
  }

  score(member: string): number | undefined {
    const i = this.index.get(member);
    return i === undefined ? undefined : this.heap[i]!.score;
  }

  /** ZADD: inserts or moves the member. */
  add(member: string, score: number): void {
    const i = this.index.get(member);
    if (i === undefined) {
      this.heap.push({ member, score });
      this.index.set(member, this.heap.length - 1);
      this.up(this.heap.length - 1);
      return;
    }
    const entry = this.heap[i]!;
    const before = entry.score;
    entry.score = score;
    if (score < before) this.up(i);
    else this.down(i);
  }

  /** ZREM: true when the member was there. */
  remove(member: string): boolean {
    const i = this.index.get(member);
    if (i === undefined) return false;
    const last = this.heap.pop()!;
    this.index.delete(member);
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.index.set(last.member, i);
      this.down(i);
      this.up(i);
    }
    return true;
  }

  /** ZRANGE 0 n-1 WITHSCORES: the n lowest, in order, without removing them. */
  lowest(n: number): { member: string; score: number }[] {
    const out: { member: string; score: number }[] = [];
    if (n <= 0 || this.heap.length === 0) return out;
    // Best-first walk of the heap: the next lowest is always a child of one already taken.
    const frontier = [0];
    while (out.length < n && frontier.length > 0) {
      let best = 0;
      for (let f = 1; f < frontier.length; f++) if (this.less(frontier[f]!, frontier[best]!)) best = f;
      const i = frontier.splice(best, 1)[0]!;
      out.push({ ...this.heap[i]! });
      for (const child of [2 * i + 1, 2 * i + 2]) if (child < this.heap.length) frontier.push(child);
    }
    return out;
  }

  /** ZRANGEBYSCORE -inf max LIMIT 0 limit. */
  upTo(max: number, limit: number): string[] {
    return this.lowest(limit)
      .filter((e) => e.score <= max)
      .map((e) => e.member);
  }

  /** Every member with its score, in order (snapshots and tests only: O(n log n)). */
  entries(): { member: string; score: number }[] {
    return [...this.heap].sort((a, b) => compare(a, b));
  }

  private less(a: number, b: number): boolean {
    return compare(this.heap[a]!, this.heap[b]!) < 0;
  }

  private swap(a: number, b: number): void {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    this.heap[a] = y;
    this.heap[b] = x;
    this.index.set(y.member, a);
    this.index.set(x.member, b);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.less(left, smallest)) smallest = left;
      if (right < this.heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}

/** Redis order: by score, then by member bytes (ids are ASCII, so code-unit order is byte order). */
function compare(a: { member: string; score: number }, b: { member: string; score: number }): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  return a.member < b.member ? -1 : a.member > b.member ? 1 : 0;
}
