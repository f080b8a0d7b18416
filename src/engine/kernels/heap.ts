// The kernel's memory (one shared WebAssembly memory, pool.ts): the control block, then packed
// weights and arenas' arrays that stay between calls (allocated first fit, holes merged when
// released), then the workspace, scratch that holds nothing between calls and grows to the
// largest call so far.
//
//   0 .. CONTROL_BYTES | packed weights, arenas and holes | workspaceAt .. the memory's end
//
// A kernel call reads its operands from the workspace and writes its results there, so each
// JavaScript array is copied in and out ("staged") around the call, except an array that already
// lives in the kernel's memory: a KernelArena's, which the call reads and writes where it is.

import { MAX_PAGES, PAGE_BYTES, kernelState, type KernelState } from './pool';
import { align16 } from './protocol';

/** Makes the memory at least `bytes` long (byte address of the end of what a call needs). */
export function reserve(s: KernelState, bytes: number): void {
  const have = s.memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / PAGE_BYTES);
  if (have / PAGE_BYTES + pages > MAX_PAGES) {
    throw new RangeError(`matmul workspace of ${(bytes / 2 ** 20).toFixed(0)} MiB exceeds the kernel's ${MAX_PAGES / 16} MiB`);
  }
  s.memory.grow(pages);
  s.heap = new Float32Array(s.memory.buffer as unknown as SharedArrayBuffer);
  s.buffers.add(s.heap.buffer);
}

/**
 * A weight (out, in) as nn.Linear holds it, packed once into the kernel's panel layout in the
 * kernel's memory (packMatrix), so that products with it (matmulPackedInto) neither copy nor
 * pack it: matmulInto copies and packs its B on every call, 124M floats per GPT-2 token.
 * A packing is a snapshot: the kernel never reads `source` again, so a weight changed after it
 * was packed (an optimizer step updates weights in place) is not seen. Whoever packs releases
 * (releasePacked) and packs again after a change; `source` lets a caller check that a packing
 * belongs to the weight it is about to multiply by.
 */
export interface PackedMatrix {
  /** The array it was packed from: (rows, cols) row-major. */
  readonly source: Float32Array;
  /** Output features m: the weight's rows. */
  readonly rows: number;
  /** Input features k: the weight's columns. */
  readonly cols: number;
  /** False once released: its memory may hold another weight. */
  readonly live: boolean;
}

export class PackedWeight implements PackedMatrix {
  live = true;
  constructor(
    readonly source: Float32Array,
    readonly rows: number,
    readonly cols: number,
    /** Byte address of panel 0 in the kernel's memory, and the bytes reserved there. */
    readonly at: number,
    readonly bytes: number,
  ) {}
}

/** The packing behind `packed` if it is one of ours and not released, else undefined. */
export function livePacking(packed: PackedMatrix | undefined): PackedWeight | undefined {
  return packed instanceof PackedWeight && packed.live ? packed : undefined;
}

/** Packed weights start at multiples of a cache line. */
export const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

/** Bytes for packed weights below the workspace: the first hole that fits, else the workspace moves up. */
export function allocatePacked(s: KernelState, bytes: number): number {
  const index = s.holes.findIndex((hole) => hole.bytes >= bytes);
  const hole = s.holes[index];
  if (hole) {
    const at = hole.at;
    if (hole.bytes === bytes) s.holes.splice(index, 1);
    else s.holes[index] = { at: at + bytes, bytes: hole.bytes - bytes };
    return at;
  }
  const at = s.workspaceAt;
  reserve(s, at + bytes);
  s.workspaceAt = at + bytes;
  return at;
}

/** Returns a packed weight's bytes: merged with the holes beside it, or given back to the workspace. */
export function freePacked(s: KernelState, at: number, bytes: number): void {
  const holes = s.holes;
  let index = holes.findIndex((hole) => hole.at > at);
  if (index < 0) index = holes.length;
  holes.splice(index, 0, { at, bytes });
  const next = holes[index + 1];
  if (next && at + bytes === next.at) holes.splice(index, 2, { at, bytes: bytes + next.bytes });
  const previous = holes[index - 1];
  const merged = holes[index]!;
  if (previous && previous.at + previous.bytes === merged.at) holes.splice(index - 1, 2, { at: previous.at, bytes: previous.bytes + merged.bytes });
  const last = holes[holes.length - 1];
  if (last && last.at + last.bytes === s.workspaceAt) {
    s.workspaceAt = last.at;
    holes.pop();
  }
}

/**
 * Lays out a call's scratch in the workspace: the byte address of each part, `bytes` long, one
 * after the other from the workspace's start, each 16-aligned, all of it reserved.
 */
export function placeInWorkspace<const Sizes extends readonly number[]>(s: KernelState, ...bytes: Sizes): { [K in keyof Sizes]: number } {
  let end = s.workspaceAt;
  const addresses = bytes.map((size) => {
    const at = end;
    end = align16(end + size);
    return at;
  });
  reserve(s, end);
  return addresses as { [K in keyof Sizes]: number };
}

/**
 * Arrays that live in the kernel's memory, for buffers that go through kernel call after kernel
 * call (a training step's activations): the calls read and write them where they are instead of
 * staging them, which was about a fifth of a two-thread training step. Each array starts
 * zero-filled at a multiple of a cache line. They are given back by release(), or once the arena
 * and every array it gave out have been collected (each array keeps its arena alive; a subarray
 * does not, so keep one only as long as its parent). While any arena is live, the idle release
 * keeps the workspace (pool.ts).
 */
export class KernelArena {
  private readonly parts: { at: number; bytes: number }[] = [];

  constructor() {
    arenaRegistry.register(this, this.parts, this);
  }

  /** `count` zeros in the kernel's memory, or an ordinary array once the arenas' budget is spent. */
  floats(count: number): Float32Array {
    const at = this.allocate(4 * count);
    return at < 0 ? new Float32Array(count) : this.keep(new Float32Array(kernelState().heap.buffer, at, count));
  }

  bytes(count: number): Uint8Array {
    const at = this.allocate(count);
    return at < 0 ? new Uint8Array(count) : this.keep(new Uint8Array(kernelState().heap.buffer, at, count));
  }

  private keep<View extends ArrayBufferView>(view: View): View {
    arenaOf.set(view, this);
    return view;
  }

  /** Gives every array's memory back: using them afterwards reads another buffer's values. */
  release(): void {
    arenaRegistry.unregister(this);
    freeArena(this.parts);
  }

  /** Byte address of `bytes` zeroed bytes, or −1 (none asked, or past the budget). */
  private allocate(bytes: number): number {
    if (bytes === 0) return -1;
    const s = kernelState();
    const size = align64(bytes);
    if (s.arenaBytes + size > arenaBudget) return -1;
    let at: number;
    try {
      at = allocatePacked(s, size);
    } catch {
      return -1; // the kernel's memory is at its maximum: staged as before
    }
    s.heap.fill(0, at >> 2, (at + size) >> 2); // four times as fast as a Uint8Array's fill on shared memory
    this.parts.push({ at, bytes: size });
    s.arenaBytes += size;
    return at;
  }
}

function freeArena(parts: { at: number; bytes: number }[]): void {
  const s = kernelState(); // and restarts the idle clock, so a release skipped for the arena runs
  for (const { at, bytes } of parts.splice(0)) {
    freePacked(s, at, bytes);
    s.arenaBytes -= bytes;
  }
}

const arenaRegistry = new FinalizationRegistry(freeArena);

/**
 * Bytes all arenas together may take of the kernel's 2 GiB, so that the workspace and packed
 * weights keep room: training GPT-2 small (124M parameters) would need 1.5 GB for its gradients
 * and AdamW's moments alone. Past it an arena gives ordinary arrays, which calls stage.
 */
const ARENA_BUDGET = 2 ** 30;
let arenaBudget = ARENA_BUDGET;

/** For tests: the arenas' budget in bytes (undefined: the default, 1 GiB). */
export function setArenaBudget(bytes: number | undefined): void {
  arenaBudget = bytes ?? ARENA_BUDGET;
}

/** Each array to its arena: the arena lives as long as any of its arrays. */
const arenaOf = new WeakMap<ArrayBufferView, KernelArena>();

/** `view`'s byte address when it lives in the kernel's memory (a KernelArena's array), else −1. */
export function kernelAddress(s: KernelState, view: ArrayBufferView): number {
  return s.buffers.has(view.buffer) ? view.byteOffset : -1;
}

/** The workspace bytes `view` needs to be staged in: 0 when it lives in the kernel's memory. */
export function stagedBytes(s: KernelState, view: ArrayBufferView): number {
  return kernelAddress(s, view) < 0 ? view.byteLength : 0;
}

/** The address a call reads `view` at: where it lives, or `scratch` after copying it there. */
export function stageIn(s: KernelState, view: Float32Array | Uint8Array, scratch: number): number {
  const at = kernelAddress(s, view);
  if (at >= 0) return at;
  if (view instanceof Float32Array) s.heap.set(view, scratch >> 2);
  else new Uint8Array(s.heap.buffer, scratch, view.length).set(view);
  return scratch;
}

/** The address a call writes `view`'s values at: where it lives, or `scratch`. */
export function outputAt(s: KernelState, view: ArrayBufferView, scratch: number): number {
  const at = kernelAddress(s, view);
  return at >= 0 ? at : scratch;
}

/** After a call wrote `view`'s values at `at`: copies them into `view` unless it is there. */
export function stageOut(s: KernelState, view: Float32Array, at: number): void {
  if (kernelAddress(s, view) === at) return;
  view.set(s.heap.subarray(at >> 2, (at >> 2) + view.length));
}

/** Whether two arrays that live in the kernel's memory share a byte (one that does not cannot share one with one that does). */
export function overlaps(s: KernelState, x: ArrayBufferView, y: ArrayBufferView): boolean {
  const xAt = kernelAddress(s, x);
  const yAt = kernelAddress(s, y);
  return xAt >= 0 && yAt >= 0 && xAt < yAt + y.byteLength && yAt < xAt + x.byteLength;
}
