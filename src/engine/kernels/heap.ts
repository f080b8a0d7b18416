// The kernel's memory (one shared WebAssembly memory, pool.ts): the control block, then packed
// weights that stay between calls (allocated first fit, holes merged when released), then the
// workspace, scratch that holds nothing between calls and grows to the largest call so far.
//
//   0 .. CONTROL_BYTES | packed weights and holes | workspaceAt .. the memory's end

import { MAX_PAGES, PAGE_BYTES, type KernelState } from './pool';
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
