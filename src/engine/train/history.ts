// A run's losses, bounded: a million steps must not mean a million points in the checkpoint's
// metadata, the panel's chart or its replay after a reload. Points are kept at steps that are
// multiples of a stride; when more than `max` are kept the stride doubles and every other point
// goes, so between max/2 and max points always span the whole run (the first kept step is the
// stride's, the last the newest multiple of it). The stride travels with the points, so the
// panel drops the same points the engine dropped.

export class DecimatedSeries<T extends { step: number }> {
  private kept: T[] = [];
  private every = 1;

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 2) throw new RangeError(`a decimated series keeps at least 2 points, got ${max}`);
  }

  /** Points are kept at steps that are multiples of this (1, 2, 4, …). */
  get stride(): number {
    return this.every;
  }

  get items(): readonly T[] {
    return this.kept;
  }

  get length(): number {
    return this.kept.length;
  }

  at(index: number): T | undefined {
    return this.kept.at(index);
  }

  /** Adds the point of a later step; true when it is kept (its step is a multiple of the stride, after any doubling). */
  add(point: T): boolean {
    if (point.step % this.every !== 0) return false;
    this.kept.push(point);
    while (this.kept.length > this.max) {
      this.every *= 2;
      this.kept = this.kept.filter((p) => p.step % this.every === 0);
    }
    return point.step % this.every === 0;
  }

  /** Replaces the newest point when it is of the same step (an evaluation repeated at the end of a run). */
  replaceLast(point: T): boolean {
    if (this.kept.at(-1)?.step !== point.step) return this.add(point);
    this.kept[this.kept.length - 1] = point;
    return true;
  }
}
