// A log-bucketed latency histogram (about 1% relative precision) so that millions of samples
// cost a fixed few kilobytes.
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const MIN = 0.001; // ms: one microsecond; anything smaller lands in bucket 0

export class Histogram {
  #counts = new Float64Array(2048);
  count = 0;
  max = 0;
  #sum = 0;

  record(ms: number): void {
    if (!(ms >= 0)) ms = 0;
    const i =
      ms <= MIN ? 0 : Math.min(this.#counts.length - 1, 1 + Math.floor(Math.log(ms / MIN) / LOG_GROWTH));
    this.#counts[i]! += 1;
    this.count++;
    this.#sum += ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < this.#counts.length; i++) this.#counts[i]! += other.#counts[i]!;
    this.count += other.count;
    this.#sum += other.#sum;
    if (other.max > this.max) this.max = other.max;
  }

  get mean(): number {
    return this.count ? this.#sum / this.count : Number.NaN;
  }

  /** The value at quantile q (0..1), as the upper edge of its bucket; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.max, i === 0 ? MIN : MIN * GROWTH ** i);
    }
    return this.max;
  }
}
