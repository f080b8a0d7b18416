// Exact values of a long text's coded maps, fetched from the host as the user hovers cells or
// zooms in far enough to read numbers. Values come a block of BLOCK×BLOCK cells at a time, so
// moving the pointer across neighbouring cells asks nothing more; lookups of one task that miss
// the same block are sent as one 'requestCells' naming all their matrices. The standalone report
// answers from display codes instead ('approximate'): those values are shown marked.
import { MAX_CELL_PATHS, MAX_CELLS_SIDE, type CellsReply, type CellsRequest } from '../src/shared/protocol';

/**
 * A cell's value as the panel shows it: exact (no mark), or from the report's display codes:
 * '≈' within half a colour level of `value`, '<' somewhere below `value` (a log scale's lowest level).
 */
export interface CellReading {
  value: number;
  mark?: '≈' | '<';
}

/** A reading as text: its mark, `gap`, then the value as `format` writes it ('≈ 0.0123'). */
export const showReading = (x: CellReading, format: (v: number) => string, gap = ' ') => (x.mark ? x.mark + gap : '') + format(x.value);

const BLOCK = 32;
/** Blocks kept per run (each 4 KB per matrix): enough for a long hover session and a zoomed view. */
const MAX_BLOCKS = 2048;

type Ask = Omit<CellsRequest, 'type' | 'runId'>;

export class ExactCells {
  /** `${path}|${blockRow}|${blockCol}` → the block's values (BLOCK×BLOCK, or less at the edges). */
  private readonly blocks = new Map<string, { cols: number; values: Float32Array; floor?: number }>();
  private readonly asked = new Set<string>();
  /** Misses of the current task, by block: the paths to ask for. */
  private queued = new Map<string, { br: number; bc: number; paths: Set<string> }>();

  constructor(private readonly send: (ask: Ask) => void) {
    if (BLOCK > MAX_CELLS_SIDE) throw new Error(`BLOCK (${BLOCK}) must not exceed MAX_CELLS_SIDE (${MAX_CELLS_SIDE})`);
  }

  /** The value of (r, c) of the matrix at `path`, or undefined while it is asked for. */
  value(path: string, r: number, c: number): CellReading | undefined {
    const br = Math.floor(r / BLOCK);
    const bc = Math.floor(c / BLOCK);
    const key = `${path}|${br}|${bc}`;
    const block = this.blocks.get(key);
    if (block) {
      const value = block.values[(r - br * BLOCK) * block.cols + (c - bc * BLOCK)];
      if (value === undefined) return undefined;
      // In an approximate reply 0 and ±∞ are exact: the codes of dropped and masked cells.
      if (block.floor === undefined || value === 0 || !Number.isFinite(value)) return { value };
      return value <= block.floor ? { value: block.floor, mark: '<' } : { value, mark: '≈' };
    }
    if (!this.asked.has(key)) {
      this.asked.add(key);
      if (this.queued.size === 0) queueMicrotask(() => this.flush());
      const where = `${br}|${bc}`;
      const entry = this.queued.get(where) ?? { br, bc, paths: new Set<string>() };
      entry.paths.add(path);
      this.queued.set(where, entry);
    }
    return undefined;
  }

  /** Stores a 'cells' reply (the host clips windows at the matrix edges). */
  accept({ paths, r0, c0, cols, values, approximate }: CellsReply): void {
    if (r0 % BLOCK || c0 % BLOCK) return; // not a block this cache asked for
    paths.forEach((path, i) => {
      const v = values[i];
      const key = `${path}|${r0 / BLOCK}|${c0 / BLOCK}`;
      if (!v) return;
      this.blocks.set(key, { cols, values: v, ...(approximate && { floor: approximate.floors[i] ?? -Infinity }) });
      this.asked.delete(key);
    });
    // Oldest blocks go first (a Map keeps insertion order).
    for (const old of this.blocks.keys()) {
      if (this.blocks.size <= MAX_BLOCKS) break;
      this.blocks.delete(old);
    }
  }

  /** A new trace: nothing cached applies to it. */
  clear(): void {
    this.blocks.clear();
    this.asked.clear();
    this.queued.clear();
  }

  private flush(): void {
    const queued = [...this.queued.values()];
    this.queued = new Map();
    for (const { br, bc, paths } of queued) {
      const all = [...paths];
      for (let i = 0; i < all.length; i += MAX_CELL_PATHS) {
        this.send({ paths: all.slice(i, i + MAX_CELL_PATHS), r0: br * BLOCK, c0: bc * BLOCK, rows: BLOCK, cols: BLOCK });
      }
    }
  }
}
