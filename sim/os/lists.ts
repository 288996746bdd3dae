/**
 * Intrusive doubly linked lists over small integers (pages, swap slots), in typed arrays: every node is
 * on at most one list of the set, and push, remove and pop are O(1) without allocating. Node `x` links
 * through next[x] / prev[x]; list `l` has a sentinel node at index `nodes + l`.
 */
const NONE = 0xffff;

export class IndexLists {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** The list each node is on, or 0xffff. */
  private readonly on: Uint16Array;
  private readonly count: Int32Array;

  constructor(
    readonly nodes: number,
    readonly lists: number,
  ) {
    if (lists >= NONE) throw new RangeError(`at most ${NONE - 1} lists`);
    this.next = new Int32Array(nodes + lists);
    this.prev = new Int32Array(nodes + lists);
    this.on = new Uint16Array(nodes).fill(NONE);
    this.count = new Int32Array(lists);
    for (let l = 0; l < lists; l++) {
      const s = nodes + l;
      this.next[s] = s;
      this.prev[s] = s;
    }
  }

  /** Bytes held by the arrays. */
  get byteLength(): number {
    return this.next.byteLength + this.prev.byteLength + this.on.byteLength + this.count.byteLength;
  }

  size(l: number): number {
    return this.count[l]!;
  }

  /** The list node `x` is on, or -1. */
  listOf(x: number): number {
    const l = this.on[x]!;
    return l === NONE ? -1 : l;
  }

  /** First node of list `l` (most recently pushed at the head), or -1 when empty. */
  head(l: number): number {
    const x = this.next[this.nodes + l]!;
    return x >= this.nodes ? -1 : x;
  }

  tail(l: number): number {
    const x = this.prev[this.nodes + l]!;
    return x >= this.nodes ? -1 : x;
  }

  /** The node after `x` on its list, or -1 at the end. */
  after(x: number): number {
    const y = this.next[x]!;
    return y >= this.nodes ? -1 : y;
  }

  /** The node before `x` on its list, or -1 at the start. */
  before(x: number): number {
    const y = this.prev[x]!;
    return y >= this.nodes ? -1 : y;
  }

  /** Moves every node of list `from` to the head of list `to`, keeping their order. O(nodes moved). */
  spliceToHead(from: number, to: number): void {
    const n = this.count[from]!;
    if (n === 0 || from === to) return;
    const sf = this.nodes + from;
    const st = this.nodes + to;
    const first = this.next[sf]!;
    const last = this.prev[sf]!;
    for (let x = first; x !== sf; x = this.next[x]!) this.on[x] = to;
    const h = this.next[st]!;
    this.next[st] = first;
    this.prev[first] = st;
    this.next[last] = h;
    this.prev[h] = last;
    this.next[sf] = sf;
    this.prev[sf] = sf;
    this.count[to]! += n;
    this.count[from] = 0;
  }

  /**
   * Moves the first `n` nodes of list `from` (or all, if fewer) to the tail of list `to`, keeping their
   * order; returns the first node moved, or -1.
   */
  moveHeadRun(from: number, to: number, n: number): number {
    const sf = this.nodes + from;
    const st = this.nodes + to;
    const first = this.next[sf]!;
    if (first === sf || n <= 0) return -1;
    let last = first;
    let k = 1;
    this.on[first] = to;
    while (k < n) {
      const y = this.next[last]!;
      if (y === sf) break;
      last = y;
      this.on[y] = to;
      k++;
    }
    const rest = this.next[last]!;
    this.next[sf] = rest;
    this.prev[rest] = sf;
    const t = this.prev[st]!;
    this.next[t] = first;
    this.prev[first] = t;
    this.next[last] = st;
    this.prev[st] = last;
    this.count[from]! -= k;
    this.count[to]! += k;
    return first;
  }

  pushHead(l: number, x: number): void {
    const s = this.nodes + l;
    const h = this.next[s]!;
    this.next[x] = h;
    this.prev[x] = s;
    this.prev[h] = x;
    this.next[s] = x;
    this.on[x] = l;
    this.count[l]!++;
  }

  pushTail(l: number, x: number): void {
    const s = this.nodes + l;
    const t = this.prev[s]!;
    this.prev[x] = t;
    this.next[x] = s;
    this.next[t] = x;
    this.prev[s] = x;
    this.on[x] = l;
    this.count[l]!++;
  }

  /** Takes `x` off whatever list it is on (a no-op when it is on none). */
  remove(x: number): void {
    const l = this.on[x]!;
    if (l === NONE) return;
    const n = this.next[x]!;
    const p = this.prev[x]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.on[x] = NONE;
    this.count[l]!--;
  }

  moveToHead(l: number, x: number): void {
    this.remove(x);
    this.pushHead(l, x);
  }

  moveToTail(l: number, x: number): void {
    this.remove(x);
    this.pushTail(l, x);
  }

  popHead(l: number): number {
    const x = this.head(l);
    if (x >= 0) this.remove(x);
    return x;
  }

  popTail(l: number): number {
    const x = this.tail(l);
    if (x >= 0) this.remove(x);
    return x;
  }
}
