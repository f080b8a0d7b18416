// safetensors reader/writer: round trips, half-float decoding, every malformed header, fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  bfloat16ToFloat,
  halfToFloat,
  MAX_HEADER_BYTES,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
  type SafeTensor,
} from '../../src/engine/io/safetensors';
import { seededRandom } from './tokenizer-random';

/** Assembles a file from a header object (or raw header text) and data bytes. */
function makeFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

function throwsSafetensors(bytes: Uint8Array, ...patterns: RegExp[]): void {
  assert.throws(
    () => readSafetensors(bytes),
    (err: unknown) => {
      assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${String(err)}`);
      assert.ok(!err.message.includes('\n'), 'messages are one line');
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}


const sample = (): Map<string, SafeTensor> =>
  new Map<string, SafeTensor>([
    ['tok_emb.weight', { shape: [3, 2], data: Float32Array.from([1, -2, 0.5, 3.25, -0, 1e-30]) }],
    ['norm.scale', { shape: [2], data: Float32Array.from([Math.PI, -Math.E]) }],
    ['scalar', { shape: [], data: Float32Array.from([42]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);

// ----------------------------------------------------------------------------- round trips

test('F32 write → read round-trips values, shapes, order and metadata', () => {
  const tensors = sample();
  const bytes = writeSafetensors(tensors, { format: 'pt', note: 'hello' });
  const file = readSafetensors(bytes);
  assert.deepEqual([...file.tensors.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) {
    const back = file.tensors.get(name);
    assert.ok(back);
    assert.deepEqual(back.shape, t.shape);
    assert.equal(back.dtype, 'F32');
    assert.deepEqual([...back.data], [...t.data]);
  }
  assert.ok(Object.is(file.tensors.get('tok_emb.weight')?.data[4], -0), 'the sign of zero survives');
  assert.deepEqual(file.metadata, { format: 'pt', note: 'hello' });
});

test('the writer pads the header with spaces so data starts 8-byte aligned', () => {
  for (let n = 0; n < 12; n++) {
    const bytes = writeSafetensors([[`t${'x'.repeat(n)}`, { shape: [1], data: Float32Array.of(n) }]]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const headerBytes = view.getUint32(0, true);
    assert.equal(view.getUint32(4, true), 0);
    assert.equal((8 + headerBytes) % 8, 0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerBytes));
    assert.match(headerText, /^\{.*\} *$/);
    assert.equal(bytes.length, 8 + headerBytes + 4);
    assert.equal(readSafetensors(bytes).tensors.get(`t${'x'.repeat(n)}`)?.data[0], n);
  }
});

test('the writer lays out bytes exactly as the format describes', () => {
  const bytes = writeSafetensors([['a', { shape: [2], data: Float32Array.of(1, -2) }]]);
  const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const padded = json + ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const expected = new Uint8Array([
    ...new Uint8Array(new BigUint64Array([BigInt(padded.length)]).buffer), // host is little-endian here
    ...new TextEncoder().encode(padded),
    0x00, 0x00, 0x80, 0x3f, // 1.0f little-endian
    0x00, 0x00, 0x00, 0xc0, // -2.0f
  ]);
  assert.deepEqual([...bytes], [...expected]);
});

test('reads from a Buffer slice with a non-zero byteOffset and unaligned data', () => {
  // A header of odd length puts the data at an unaligned offset; a pooled Buffer adds byteOffset.
  const header = { w: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } };
  const file = makeFile(JSON.stringify(header) + ' ', f32Bytes([1.5, -2.5, 3.5]));
  const backing = Buffer.alloc(file.length + 3);
  backing.set(file, 3);
  const slice = backing.subarray(3);
  assert.deepEqual([...(readSafetensors(slice).tensors.get('w')?.data ?? [])], [1.5, -2.5, 3.5]);
});

test('writer refuses a shape that does not match the data, reserved names and duplicates', () => {
  assert.throws(() => writeSafetensors([['x', { shape: [2, 2], data: new Float32Array(3) }]]), /"x".*\[2,2\] holds 4 values but the data has 3/);
  assert.throws(() => writeSafetensors([['__metadata__', { shape: [1], data: new Float32Array(1) }]]), /reserved/);
  assert.throws(
    () =>
      writeSafetensors([
        ['x', { shape: [1], data: new Float32Array(1) }],
        ['x', { shape: [1], data: new Float32Array(1) }],
      ]),
    /"x" twice/,
  );
  assert.throws(() => writeSafetensors([['x', { shape: [-1], data: new Float32Array(0) }]]), /not a non-negative integer/);
});

// ----------------------------------------------------------------------------- half floats

test('F16 bit patterns decode to the IEEE 754 binary16 values', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504], // largest finite half
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, value] of cases) assert.equal(halfToFloat(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Number.isNaN(halfToFloat(0xfc01)));

  const file = readSafetensors(
    makeFile({ h: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] } }, u16Bytes([0x3c00, 0xc000, 0x3555, 0x0001])),
  );
  const h = file.tensors.get('h');
  assert.equal(h?.dtype, 'F16');
  assert.deepEqual([...(h?.data ?? [])], [1, -2, 0.333251953125, 2 ** -24]);
});

test('BF16 bit patterns decode to the top halves of binary32 values', () => {
  const cases: [number, number][] = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625],
    [0x3eab, 0.333984375],
    [0x7f7f, 3.3895313892515355e38], // largest finite bf16
    [0x0080, 2 ** -126], // smallest normal
    [0x0001, 2 ** -133], // smallest subnormal
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  for (const [bits, value] of cases) assert.equal(bfloat16ToFloat(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(bfloat16ToFloat(0x8000), -0));
  assert.ok(Number.isNaN(bfloat16ToFloat(0x7fc0)));

  const file = readSafetensors(
    makeFile({ b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] } }, u16Bytes([0x3f80, 0x4049, 0xc000])),
  );
  assert.deepEqual([...(file.tensors.get('b')?.data ?? [])], [1, 3.140625, -2]);
});

test('all 65,536 F16 patterns agree with numpy (table made by scripts/gen_f16_table.py)', () => {
  const table = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'numpy', 'float16-to-float32.bin'));
  assert.equal(table.length, 4 * 65536);
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let bits = 0; bits < 65536; bits++) {
    const expected = view.getFloat32(4 * bits, true);
    const actual = halfToFloat(bits);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `0x${bits.toString(16)}`);
    else assert.ok(Object.is(actual, expected), `0x${bits.toString(16)}: ${actual} vs numpy ${expected}`);
  }
});

// ----------------------------------------------------------------------------- malformed files

const valid = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

test('file shorter than the 8-byte length field', () => {
  throwsSafetensors(new Uint8Array(0), /0 bytes, expected at least 8/);
  throwsSafetensors(new Uint8Array(5), /5 bytes, expected at least 8/);
});

test('header length above the cap, or with the high 32 bits set, is refused before allocating', () => {
  const big = new Uint8Array(16);
  new DataView(big.buffer).setUint32(0, MAX_HEADER_BYTES + 1, true);
  throwsSafetensors(big, /header length 100000001 is above the 100000000-byte limit/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setUint32(4, 1, true);
  throwsSafetensors(huge, /header length 4294967296 is above/);
});

test('header length beyond the end of the file (truncated header)', () => {
  const file = makeFile(valid, f32Bytes([1, 2]));
  throwsSafetensors(file.subarray(0, 20), /the file is shorter than its header promises: the header alone is \d+ bytes, the file has 20 — it was cut short/);
  throwsSafetensors(makeFile('{}', undefined, 1000), /the header alone is 1008 bytes, the file has 10/);
});

test('header that is not UTF-8, not an object, or not JSON', () => {
  const bad = makeFile('{"a":1}');
  bad[10] = 0xff;
  throwsSafetensors(bad, /not valid UTF-8/);
  throwsSafetensors(makeFile('[1,2]'), /expected a JSON object starting with "\{", found "\[1,2\]"/);
  throwsSafetensors(makeFile('   {}'), /starting with "\{"/);
  throwsSafetensors(makeFile('{"t": {"dtype": "F32",'), /invalid JSON/);
  throwsSafetensors(makeFile('{} x'), /invalid JSON/);
});

test('padded header with trailing spaces is accepted; empty header gives no tensors', () => {
  const file = readSafetensors(makeFile(JSON.stringify(valid) + '       ', f32Bytes([7, 8])));
  assert.deepEqual([...(file.tensors.get('t')?.data ?? [])], [7, 8]);
  assert.equal(readSafetensors(makeFile('{}')).tensors.size, 0);
});

test('__metadata__ must be a map of strings', () => {
  throwsSafetensors(makeFile({ __metadata__: [1] }), /"__metadata__" must be an object of strings, found an array/);
  throwsSafetensors(makeFile({ __metadata__: { format: 3 } }), /"__metadata__" entry "format" must be a string, found number 3/);
  const proto = readSafetensors(makeFile('{"__metadata__":{"__proto__":"x"}}'));
  assert.equal(Object.getPrototypeOf(proto.metadata), Object.prototype);
  assert.equal(proto.metadata['__proto__'], 'x');
});

test('tensor entry that is not an object', () => {
  throwsSafetensors(makeFile({ w: 5 }), /tensor "w": expected \{dtype, shape, data_offsets\}, found number 5/);
  throwsSafetensors(makeFile({ w: null }), /tensor "w".*found null/);
});

test('unsupported or missing dtype names the tensor and the dtype', () => {
  throwsSafetensors(
    makeFile({ 'mha.W_key.weight': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /tensor "mha.W_key.weight" has dtype I64, expected F32, F16 or BF16/,
  );
  throwsSafetensors(makeFile({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /"w" has dtype F64/);
  throwsSafetensors(makeFile({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /"w" has dtype undefined/);
  throwsSafetensors(makeFile({ w: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /"w" has dtype f32/);
});

test('shape must be an array of non-negative integers', () => {
  const entry = (shape: unknown) => makeFile({ w: { dtype: 'F32', shape, data_offsets: [0, 8] } }, new Uint8Array(8));
  throwsSafetensors(entry('2'), /tensor "w": shape must be an array of dims, found the string "2"/);
  throwsSafetensors(entry([2, -1]), /tensor "w": dim 1 of shape \[2,-1\] must be a non-negative integer, found number -1/);
  throwsSafetensors(entry([1.5]), /dim 0 of shape \[1.5\] must be a non-negative integer/);
  throwsSafetensors(entry(['2']), /dim 0 .* found the string "2"/);
  throwsSafetensors(entry([1e300]), /dim 0 .* must be a non-negative integer/);
});

test('data_offsets must be two ordered non-negative integers', () => {
  const entry = (offsets: unknown) => makeFile({ w: { dtype: 'F32', shape: [2], data_offsets: offsets } }, new Uint8Array(8));
  throwsSafetensors(entry([0]), /tensor "w": data_offsets must be \[begin, end\], found an array/);
  throwsSafetensors(entry('0,8'), /data_offsets must be \[begin, end\]/);
  throwsSafetensors(entry([8, 0]), /tensor "w": data_offsets \[8,0\] must be integers with 0 <= begin <= end/);
  throwsSafetensors(entry([-8, 0]), /0 <= begin <= end/);
  throwsSafetensors(entry([0, 8.5]), /0 <= begin <= end/);
});

test('byte range that disagrees with shape × dtype size', () => {
  throwsSafetensors(
    makeFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
  throwsSafetensors(
    makeFile({ w: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } }, new Uint8Array(16)),
    /shape \[2,2\] of F16 needs 8 bytes but data_offsets \[0, 16\] span 16/,
  );
  // Dims whose product overflows double precision still give a clean message.
  const max = Number.MAX_SAFE_INTEGER;
  throwsSafetensors(
    makeFile({ w: { dtype: 'F32', shape: [max, max], data_offsets: [0, 8] } }, new Uint8Array(8)),
    new RegExp(`tensor "w": shape \\[${max},${max}\\] of F32 needs ${BigInt(max) * BigInt(max) * 4n} bytes`),
  );
});

test('byte range past the end of the data (truncated file / lying header)', () => {
  const file = makeFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32Bytes([1, 2, 3, 4]));
  throwsSafetensors(
    file.subarray(0, file.length - 3),
    new RegExp(`the file is shorter than its header promises: ${file.length} bytes expected, ${file.length - 3} found \\(3 missing, from tensor "w" on\\)`),
  );
  const lying = makeFile({ w: { dtype: 'F32', shape: [1], data_offsets: [1000, 1004] } }, f32Bytes([1]));
  throwsSafetensors(lying, new RegExp(`${lying.length + 1000} bytes expected, ${lying.length} found \\(1000 missing`));
});

test('overlapping tensors, holes and trailing bytes', () => {
  throwsSafetensors(
    makeFile(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    ),
    /tensor "b": data_offsets \[4, 12\] overlap tensor "a" at \[0, 8\]/,
  );
  throwsSafetensors(
    makeFile(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      },
      new Uint8Array(12),
    ),
    /tensor "b": data_offsets start at 8, expected 4 — bytes 4..8 belong to no tensor/,
  );
  throwsSafetensors(makeFile(valid, new Uint8Array(10)), /cover 8 bytes of data but 10 follow the header — 2 bytes belong to no tensor/);
  // Tensors listed out of order but tiling the buffer are fine, and so are empty tensors.
  const ok = readSafetensors(
    makeFile(
      {
        b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      },
      f32Bytes([1, 2]),
    ),
  );
  assert.deepEqual([...ok.tensors.keys()], ['b', 'e', 'a']);
  assert.equal(ok.tensors.get('b')?.data[0], 2);
});

test('tensor names in messages are quoted and shortened', () => {
  const name = `evil\n${'n'.repeat(200)}`;
  throwsSafetensors(makeFile({ [name]: 1 }), /tensor "evil\\nn+…"/);
});

// ----------------------------------------------------------------------------- fuzzing

/** Every outcome must be a parsed file whose tensors are consistent, or a SafetensorsError. */
function fuzzOnce(bytes: Uint8Array): 'ok' | 'error' {
  try {
    const file = readSafetensors(bytes);
    for (const [name, t] of file.tensors) {
      const elements = t.shape.reduce((a, b) => a * b, 1);
      assert.equal(t.data.length, elements, name);
    }
    return 'ok';
  } catch (err) {
    if (!(err instanceof SafetensorsError)) throw new Error(`unexpected ${String(err)} for ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
    assert.ok(err.message.length > 0 && !err.message.includes('\n'));
    return 'error';
  }
}

test('fuzz: random bytes, with and without a plausible length prefix', () => {
  const rand = seededRandom(0xc0ffee);
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(Math.floor(rand() * 256));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
    if (i % 2 === 1 && bytes.length >= 9) {
      // a length that fits the file, and a header that starts like JSON
      new DataView(bytes.buffer).setUint32(0, Math.floor(rand() * (bytes.length - 8)), true);
      new DataView(bytes.buffer).setUint32(4, 0, true);
      bytes[8] = 0x7b;
    }
    fuzzOnce(bytes);
  }
});

test('fuzz: random mutations of a valid file', () => {
  const rand = seededRandom(1234);
  const base = writeSafetensors(sample(), { format: 'pt' });
  const headerLength = new DataView(base.buffer).getUint32(0, true);
  const interesting = [0x00, 0x20, 0x22, 0x2c, 0x2d, 0x30, 0x31, 0x39, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0xff];
  const counts = { ok: 0, error: 0 };
  for (let i = 0; i < 4000; i++) {
    let bytes = Uint8Array.from(base);
    const edits = 1 + Math.floor(rand() * 4);
    for (let e = 0; e < edits; e++) {
      const kind = Math.floor(rand() * 6);
      // Mostly aim at the header, where the structure is.
      const aim = rand() < 0.8 ? 8 + Math.floor(rand() * headerLength) : Math.floor(rand() * bytes.length);
      const at = Math.min(aim, bytes.length);
      if (kind === 0) bytes[at] = Math.floor(rand() * 256);
      else if (kind === 1) bytes[at] = interesting[Math.floor(rand() * interesting.length)] ?? 0;
      else if (kind === 2) bytes = bytes.subarray(0, Math.floor(rand() * bytes.length));
      else if (kind === 3) {
        const grown = new Uint8Array(bytes.length + 1);
        grown.set(bytes.subarray(0, at));
        grown[at] = interesting[Math.floor(rand() * interesting.length)] ?? 0;
        grown.set(bytes.subarray(at), at + 1);
        bytes = grown;
      } else if (kind === 4 && bytes.length >= 8) {
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, Math.floor(rand() * (headerLength + 64)), true);
      } else if (bytes.length > at) {
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
      }
    }
    counts[fuzzOnce(bytes)]++;
  }
  assert.ok(counts.error > 1000, `most mutations should be caught (${JSON.stringify(counts)})`);
});
