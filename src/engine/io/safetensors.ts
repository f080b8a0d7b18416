// Read and write the safetensors format, treating every file as hostile.
//
// Layout (https://github.com/huggingface/safetensors, README "Format"):
//   8 bytes   N, an unsigned little-endian 64-bit integer: the size of the header
//   N bytes   a UTF-8 JSON object that starts with `{` and may be padded at the end with spaces:
//             { "<name>": { "dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end] },
//               "__metadata__": { "<key>": "<string value>" } }   (metadata optional)
//   the rest  the byte buffer: every tensor's raw little-endian, row-major ("C" order) data.
//             data_offsets are relative to the start of this buffer; the reference
//             implementation requires the tensors to cover it exactly, with no holes and no
//             overlaps, so a file cannot hide other content between tensors.
// The reference implementation refuses headers above 100,000,000 bytes (MAX_HEADER_SIZE in
// safetensors/src/tensor.rs); we use the same cap.
//
// Only the float dtypes this project needs are decoded: F32, F16 (IEEE 754 binary16) and BF16
// (the upper 16 bits of a binary32). Everything is converted to Float32Array. Data is read with
// DataView at explicit little-endian offsets, so unaligned tensors and big-endian hosts work
// and no read can leave the buffer.
import { EngineError } from '../config';

/** The header-size cap of the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each dtype we decode. */
const DTYPE_BYTES: Readonly<Record<FloatDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor as read (converted to float32) or as given to the writer. */
export interface SafeTensor {
  /** Row-major dims; [] is a scalar with one element. */
  readonly shape: readonly number[];
  /** product(shape) values. */
  readonly data: Float32Array;
  /** The dtype stored in the file (the writer always writes F32). */
  readonly dtype?: FloatDtype;
}

export interface SafetensorsFile {
  /** Tensors in header order. */
  readonly tensors: Map<string, SafeTensor>;
  /** The optional `__metadata__` string map. */
  readonly metadata: Record<string, string>;
}

/**
 * A malformed or unsupported safetensors file; the message names the tensor and the problem.
 * An EngineError, so every caller that shows engine errors to a person shows these too.
 */
export class SafetensorsError extends EngineError {
  override readonly name = 'SafetensorsError';
}

/** IEEE 754 binary16 bit pattern → number (exact: every half is a float32). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f; // 5 bits, bias 15
  const mantissa = bits & 0x3ff; // 10 bits
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero or subnormal: m · 2^-14 / 2^10
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bit pattern → number: bf16 is the top half of a binary32 with the same sign and exponent. */
export function bfloat16ToFloat(bits: number): number {
  bf16Scratch.setUint32(0, (bits & 0xffff) << 16, true);
  return bf16Scratch.getFloat32(0, true);
}
const bf16Scratch = new DataView(new ArrayBuffer(4));

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Shows a tensor name safely in a one-line message (names come from the file). */
function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

interface HeaderEntry {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The one wording of a cut-short file: what the header promises, what is there, and the first
 * tensor that does not fit.
 */
export function truncatedMessage(promisedBytes: number, fileBytes: number, firstTensor: string): string {
  return `the file is shorter than its header promises: ${promisedBytes} bytes expected, ${fileBytes} found (${promisedBytes - fileBytes} missing, from tensor ${quote(firstTensor)} on) — it was cut short (an interrupted copy or download); copy or download it again`;
}

/**
 * Parses a safetensors file held in memory. Every tensor is checked (dtype, shape, offsets
 * against the shape and the buffer, no overlaps or holes) before any data is read.
 * @throws SafetensorsError naming the tensor and what was expected versus found.
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) {
    throw new SafetensorsError(
      `not a safetensors file: ${bytes.length} bytes, expected at least 8 (the header length) — the file is empty or truncated`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // u64 little-endian, read as two u32 halves so no precision is lost before the check.
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerBytes = high * 2 ** 32 + low;
  if (high !== 0 || headerBytes > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `not a safetensors file: header length ${headerBytes} is above the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  if (8 + headerBytes > bytes.length) {
    throw new SafetensorsError(
      `the file is shorter than its header promises: the header alone is ${8 + headerBytes} bytes, the file has ${bytes.length} — it was cut short (an interrupted copy or download); copy or download it again`,
    );
  }
  const header = parseHeaderJson(bytes.subarray(8, 8 + headerBytes));
  const dataStart = 8 + headerBytes;
  const dataLength = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      readMetadata(info, metadata);
      continue;
    }
    entries.push(checkEntry(name, info));
  }
  const promised = Math.max(0, ...entries.map((e) => e.end));
  if (promised > dataLength) {
    const firstCut = [...entries].sort((a, b) => a.begin - b.begin).find((e) => e.end > dataLength);
    throw new SafetensorsError(truncatedMessage(dataStart + promised, bytes.length, firstCut?.name ?? ''));
  }
  checkCoverage(entries, dataLength);

  const tensors = new Map<string, SafeTensor>();
  for (const entry of entries) {
    tensors.set(entry.name, {
      shape: entry.shape,
      dtype: entry.dtype,
      data: decode(view, dataStart + entry.begin, entry.end - entry.begin, entry.dtype),
    });
  }
  return { tensors, metadata };
}

function parseHeaderJson(headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError('malformed safetensors header: it is not valid UTF-8');
  }
  // The format requires the header to start with '{' (it may end with space padding).
  if (!text.startsWith('{')) {
    throw new SafetensorsError(
      `malformed safetensors header: expected a JSON object starting with "{", found ${JSON.stringify(text.slice(0, 20))}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SafetensorsError(`malformed safetensors header: invalid JSON (${reason})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SafetensorsError(`malformed safetensors header: expected a JSON object, found ${describe(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

function readMetadata(info: unknown, into: Record<string, string>): void {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new SafetensorsError(`malformed safetensors header: "__metadata__" must be an object of strings, found ${describe(info)}`);
  }
  for (const [key, value] of Object.entries(info)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        `malformed safetensors header: "__metadata__" entry ${quote(key)} must be a string, found ${describe(value)}`,
      );
    }
    // defineProperty, so a key such as "__proto__" stays plain data.
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

function checkEntry(name: string, info: unknown): HeaderEntry {
  const where = `tensor ${quote(name)}`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new SafetensorsError(`${where}: expected {dtype, shape, data_offsets}, found ${describe(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;

  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    const found = typeof dtype === 'string' ? dtype : describe(dtype);
    throw new SafetensorsError(
      `${where} has dtype ${found}, expected F32, F16 or BF16 — save float weights (tensor.float()) and try again`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new SafetensorsError(`${where}: shape must be an array of dims, found ${describe(shape)}`);
  }
  // Element count as a BigInt: dims up to 2^53 multiply past double precision.
  let elements = 1n;
  for (const [axis, dim] of shape.entries()) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new SafetensorsError(
        `${where}: dim ${axis} of shape ${JSON.stringify(shape)} must be a non-negative integer, found ${describe(dim)}`,
      );
    }
    elements *= BigInt(dim);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end], found ${describe(offsets)}`);
  }
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    throw new SafetensorsError(
      `${where}: data_offsets ${JSON.stringify(offsets)} must be integers with 0 <= begin <= end`,
    );
  }
  const expectedBytes = elements * BigInt(DTYPE_BYTES[dtype]);
  if (BigInt(end - begin) !== expectedBytes) {
    throw new SafetensorsError(
      `${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The tensors must tile the byte buffer exactly: no overlap, no hole, nothing after the last one. */
function checkCoverage(entries: readonly HeaderEntry[], dataLength: number): void {
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of byOffset) {
    if (entry.begin < covered && previous) {
      throw new SafetensorsError(
        `tensor ${quote(entry.name)}: data_offsets [${entry.begin}, ${entry.end}] overlap tensor ${quote(previous.name)} at [${previous.begin}, ${previous.end}]`,
      );
    }
    if (entry.begin > covered) {
      throw new SafetensorsError(
        `tensor ${quote(entry.name)}: data_offsets start at ${entry.begin}, expected ${covered} — bytes ${covered}..${entry.begin} belong to no tensor`,
      );
    }
    covered = entry.end;
    if (entry.end > entry.begin) previous = entry;
  }
  if (covered !== dataLength) {
    throw new SafetensorsError(
      `malformed safetensors file: the tensors cover ${covered} bytes of data but ${dataLength} follow the header — ${dataLength - covered} bytes belong to no tensor`,
    );
  }
}

function decode(view: DataView, offset: number, byteLength: number, dtype: FloatDtype): Float32Array {
  const count = byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  } else {
    const toFloat = dtype === 'F16' ? halfToFloat : bfloat16ToFloat;
    for (let i = 0; i < count; i++) out[i] = toFloat(view.getUint16(offset + 2 * i, true));
  }
  return out;
}

/**
 * Serialises float32 tensors (in the iteration order given) with an optional metadata map.
 * The header is padded with spaces so the data starts at a multiple of 8 bytes, as the
 * reference writer does, which keeps every tensor aligned for zero-copy readers.
 */
export function writeSafetensors(
  tensors: Iterable<readonly [string, SafeTensor]>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  const define = (key: string, value: unknown) =>
    Object.defineProperty(header, key, { value, enumerable: true, writable: true, configurable: true });
  if (metadata && Object.keys(metadata).length > 0) define('__metadata__', { ...metadata });

  const ordered: (readonly [string, SafeTensor])[] = [];
  let offset = 0;
  for (const entry of tensors) {
    const [name, tensor] = entry;
    if (name === '__metadata__' || name.length === 0) {
      throw new SafetensorsError(`cannot write a tensor named ${quote(name)}: the name is reserved or empty`);
    }
    if (Object.prototype.hasOwnProperty.call(header, name)) {
      throw new SafetensorsError(`cannot write tensor ${quote(name)} twice`);
    }
    let elements = 1;
    for (const dim of tensor.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) {
        throw new SafetensorsError(`cannot write tensor ${quote(name)}: shape ${JSON.stringify(tensor.shape)} has a dim that is not a non-negative integer`);
      }
      elements *= dim;
    }
    if (elements !== tensor.data.length) {
      throw new SafetensorsError(
        `cannot write tensor ${quote(name)}: shape ${JSON.stringify(tensor.shape)} holds ${elements} values but the data has ${tensor.data.length}`,
      );
    }
    define(name, { dtype: 'F32', shape: [...tensor.shape], data_offsets: [offset, offset + 4 * elements] });
    offset += 4 * elements;
    ordered.push(entry);
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - ((8 + json.length) % 8)) % 8;
  const headerBytes = json.length + padding;
  const out = new Uint8Array(8 + headerBytes + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes, true); // headers stay far below 2^32, so the high word is 0
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);
  let position = 8 + headerBytes;
  for (const [, tensor] of ordered) {
    for (const value of tensor.data) {
      view.setFloat32(position, value, true);
      position += 4;
    }
  }
  return out;
}
