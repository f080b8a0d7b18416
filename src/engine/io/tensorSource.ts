// Safetensors read tensor by tensor: the tensor source the checkpoint reader maps names from,
// either a file opened lazily (LazySafetensors: the header is read and checked, then each tensor
// on request, a large one in slices of rows) or a map already in memory (mapSource). Each slice
// goes through readSafetensors as a one-tensor file, so dtype, shape and decoding (F32, F16, BF16)
// are the one reader's.

import * as fs from 'node:fs';
import { MAX_HEADER_BYTES, readSafetensors, SafetensorsError, truncatedMessage, type SafeTensor } from './safetensors';

/** Large tensors are read in slices of at most this many bytes. */
const SLICE_BYTES = 16 * 2 ** 20;

export interface TensorSource {
  names(): readonly string[];
  /** The stored shape, or undefined when there is no such tensor. */
  shape(name: string): readonly number[] | undefined;
  /** The values as float32 (row-major), product(shape) of them. */
  read(name: string): Float32Array;
}

export function mapSource(tensors: ReadonlyMap<string, SafeTensor>): TensorSource {
  return {
    names: () => [...tensors.keys()],
    shape: (name) => tensors.get(name)?.shape,
    read: (name) => tensors.get(name)!.data,
  };
}

interface HeaderEntry {
  dtype: string;
  shape: readonly number[];
  begin: number;
  end: number;
}

/**
 * A safetensors file opened for reading tensor by tensor: the header is read and checked (its
 * size, its JSON, every tensor inside the data and the tensors tiling it) without the data.
 */
export class LazySafetensors implements TensorSource {
  readonly metadata: Record<string, string> = {};
  private readonly entries = new Map<string, HeaderEntry>();
  private readonly dataStart: number;

  constructor(
    private readonly fd: number,
    fileBytes: number,
  ) {
    const lengthField = this.bytes(0, Math.min(8, fileBytes));
    if (lengthField.length < 8) throw new SafetensorsError(`not a safetensors file: ${fileBytes} bytes, expected at least 8 (the header length)`);
    const view = new DataView(lengthField.buffer, lengthField.byteOffset, 8);
    const headerBytes = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
    if (headerBytes <= MAX_HEADER_BYTES && 8 + headerBytes > fileBytes) {
      throw new SafetensorsError(`the file is shorter than its header promises: the header alone is ${8 + headerBytes} bytes, the file has ${fileBytes} — it was cut short (an interrupted copy or download); copy or download it again`);
    }
    if (headerBytes > MAX_HEADER_BYTES) {
      throw new SafetensorsError(`not a safetensors file: a header of ${headerBytes} bytes does not fit the file's ${fileBytes}`);
    }
    this.dataStart = 8 + headerBytes;
    // The offsets are checked here (the data is read later, tensor by tensor); each tensor's dtype
    // and shape against its byte count are checked by readSafetensors when it is read.
    const header = this.parseHeader(headerBytes);
    const dataBytes = fileBytes - this.dataStart;
    const sorted = [...header].sort((a, b) => a[1].begin - b[1].begin);
    const promised = Math.max(0, ...sorted.map(([, entry]) => entry.end));
    if (promised > dataBytes) {
      const [firstCut] = sorted.find(([, entry]) => entry.end > dataBytes) ?? [''];
      throw new SafetensorsError(truncatedMessage(this.dataStart + promised, fileBytes, firstCut));
    }
    let covered = 0;
    for (const [name, entry] of sorted) {
      if (entry.begin !== covered || entry.end < entry.begin) {
        throw new SafetensorsError(
          `tensor ${JSON.stringify(name)}: data_offsets [${entry.begin}, ${entry.end}] do not follow the previous tensor (at ${covered}) inside the ${dataBytes} data bytes`,
        );
      }
      covered = entry.end;
      this.entries.set(name, entry);
    }
    if (covered !== dataBytes) throw new SafetensorsError(`malformed safetensors file: the tensors cover ${covered} of ${dataBytes} data bytes`);
  }

  private parseHeader(headerBytes: number): [string, HeaderEntry][] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(8, headerBytes)));
    } catch (err) {
      throw new SafetensorsError(`malformed safetensors header: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SafetensorsError('malformed safetensors header: not a JSON object');
    const out: [string, HeaderEntry][] = [];
    for (const [name, info] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === '__metadata__') {
        // the one reader checks that metadata is a map of strings (a header with no tensors)
        Object.assign(this.metadata, readSafetensors(headerOnlyFile({ __metadata__: info })).metadata);
        continue;
      }
      const { dtype, shape, data_offsets: offsets } = (info ?? {}) as Record<string, unknown>;
      const [begin, end] = Array.isArray(offsets) ? (offsets as unknown[]) : [];
      if (typeof begin !== 'number' || typeof end !== 'number' || !Array.isArray(shape)) {
        throw new SafetensorsError(`tensor ${JSON.stringify(name)}: expected {dtype, shape, data_offsets}`);
      }
      out.push([name, { dtype: String(dtype), shape: shape as number[], begin, end }]);
    }
    return out;
  }

  names(): readonly string[] {
    return [...this.entries.keys()];
  }

  shape(name: string): readonly number[] | undefined {
    return this.entries.get(name)?.shape;
  }

  /** Reads one tensor; a large one in slices of rows, each decoded by readSafetensors. */
  read(name: string): Float32Array {
    const entry = this.entries.get(name)!;
    const bytes = entry.end - entry.begin;
    const [rows = 1, ...rest] = entry.shape;
    const elements = entry.shape.reduce((a, b) => a * b, 1);
    if (!entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || elements * bytesPer(entry.dtype, name) !== bytes) {
      throw new SafetensorsError(`tensor ${JSON.stringify(name)}: shape ${JSON.stringify(entry.shape)} of ${entry.dtype} does not match its ${bytes} data bytes`);
    }
    if (bytes <= SLICE_BYTES || rest.length === 0 || rows < 2) return this.slice(name, entry.dtype, entry.shape, entry.begin, bytes);
    const rowBytes = bytes / rows;
    const out = new Float32Array(bytes / bytesPer(entry.dtype, name)); // (rows, ...rest)
    const rowValues = out.length / rows;
    const sliceRows = Math.max(1, Math.floor(SLICE_BYTES / rowBytes));
    for (let r = 0; r < rows; r += sliceRows) {
      const count = Math.min(sliceRows, rows - r);
      out.set(this.slice(name, entry.dtype, [count, ...rest], entry.begin + r * rowBytes, count * rowBytes), r * rowValues);
    }
    return out;
  }

  /** Bytes begin .. begin+bytes of the data as a one-tensor file of `shape`, decoded by readSafetensors. */
  private slice(name: string, dtype: string, shape: readonly number[], begin: number, bytes: number): Float32Array {
    const json = new TextEncoder().encode(JSON.stringify({ [name]: { dtype, shape, data_offsets: [0, bytes] } }));
    const file = new Uint8Array(8 + json.length + bytes);
    new DataView(file.buffer).setUint32(0, json.length, true);
    file.set(json, 8);
    this.readInto(file.subarray(8 + json.length), this.dataStart + begin); // straight from the disk, no extra copy
    return readSafetensors(file).tensors.get(name)!.data;
  }

  private bytes(position: number, length: number): Uint8Array {
    return this.readInto(new Uint8Array(length), position);
  }

  private readInto(out: Uint8Array, position: number): Uint8Array {
    for (let done = 0; done < out.length; ) {
      const read = fs.readSync(this.fd, out, done, out.length - done, position + done);
      if (read === 0) throw new SafetensorsError(`truncated safetensors file: ${out.length - done} bytes missing at byte ${position + done}`);
      done += read;
    }
    return out;
  }
}

function bytesPer(dtype: string, name: string): number {
  if (dtype === 'F32') return 4;
  if (dtype === 'F16' || dtype === 'BF16') return 2;
  throw new SafetensorsError(`tensor ${JSON.stringify(name)} has dtype ${dtype}, expected F32, F16 or BF16 — save float weights (tensor.float()) and try again`);
}

/** A safetensors file of `header` with no data: readSafetensors checks its __metadata__. */
function headerOnlyFile(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}
