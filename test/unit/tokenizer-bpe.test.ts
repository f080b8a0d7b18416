// Byte-level BPE trained on a corpus. The "aaabdaaabac" vector is the classic example of
// Gage's byte pair encoding (also Wikipedia's "Byte pair encoding" article) (Gage, 1994).
// The incremental trainer is checked against a direct, slow implementation of the same rules.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CancelledError, EngineError } from '../../src/engine/config';
import { loadCorpus } from '../../src/engine/corpus';
import {
  BPE_DEFAULT_VOCAB,
  bpeCacheKey,
  clearBpeCache,
  createBpeTokenizer,
  parseBpeModel,
  trainBpe,
  trainBpeCached,
} from '../../src/engine/tokenizer/bpe';
import type { BpeModel } from '../../src/engine/tokenizer/bpe';
import { textToBytes } from '../../src/engine/tokenizer/bytes';
import { assertCover, pick, randomInt, randomText, seededRandom, wholeCharacterTokens } from './tokenizer-random';

type Pair = readonly [number, number];

/** Replaces every occurrence of `pair`, left to right, by `id`. */
function mergeAll(ids: readonly number[], pair: Pair, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (i + 1 < ids.length && ids[i] === pair[0] && ids[i + 1] === pair[1]) {
      out.push(id);
      i++;
    } else out.push(ids[i] ?? -1);
  }
  return out;
}

/** The rules written out directly: recount all pairs every step (a Map keeps first-seen order). */
function referenceTrain(bytes: readonly number[], vocabSize: number): Pair[] {
  let ids = [...bytes];
  const merges: Pair[] = [];
  while (256 + merges.length < vocabSize) {
    const counts = new Map<string, number>();
    for (let i = 0; i + 1 < ids.length; i++) {
      const key = `${ids[i]},${ids[i + 1]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let bestKey = '';
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount) {
        bestKey = key;
        bestCount = count;
      }
    }
    if (bestCount === 0) break;
    const pair = bestKey.split(',').map(Number) as [number, number];
    ids = mergeAll(ids, pair, 256 + merges.length);
    merges.push(pair);
  }
  return merges;
}

/** Encoding written out directly: merge the lowest-ranked pair present until none is left. */
function referenceEncode(bytes: readonly number[], merges: readonly Pair[]): number[] {
  const rank = new Map(merges.map((pair, i) => [`${pair[0]},${pair[1]}`, i]));
  let ids = [...bytes];
  for (;;) {
    let best = Infinity;
    for (let i = 0; i + 1 < ids.length; i++) best = Math.min(best, rank.get(`${ids[i]},${ids[i + 1]}`) ?? Infinity);
    if (best === Infinity) return ids;
    const pair = merges[best];
    if (pair === undefined) return ids;
    ids = mergeAll(ids, pair, 256 + best);
  }
}

const idsOf = (tokenizer: ReturnType<typeof createBpeTokenizer>, text: string): number[] =>
  tokenizer.encode(text).map((token) => token.id);

const poemsDir = path.join(__dirname, '..', '..', 'media', 'corpus');
const verdict = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'the-verdict.txt'), 'utf8');

test('"aaabdaaabac" with vocab 259 encodes to [258, 100, 258, 97, 99]', () => {
  const model = trainBpe('aaabdaaabac', 259);
  assert.deepEqual(model.merges, [
    [97, 97],
    [256, 97],
    [257, 98],
  ]);
  const tokenizer = createBpeTokenizer(model);
  assert.equal(tokenizer.vocabSize, 259);
  const tokens = tokenizer.encode('aaabdaaabac');
  assert.deepEqual(
    tokens.map((token) => token.id),
    [258, 100, 258, 97, 99],
  );
  assert.deepEqual(
    tokens.map((token) => [token.text, token.start, token.end]),
    [
      ['aaab', 0, 4],
      ['d', 4, 5],
      ['aaab', 5, 9],
      ['a', 9, 10],
      ['c', 10, 11],
    ],
  );
  assert.equal(tokenizer.idToToken(258), 'aaab');
  assert.equal(tokenizer.decode([258, 100, 258, 97, 99]), 'aaabdaaabac');
});

test('ties go to the pair seen first; overlapping pairs merge left to right', () => {
  // "ab" and "cd" both occur twice; "cd" comes first.
  assert.deepEqual(trainBpe('cdab cdab', 257).merges, [[99, 100]]);
  assert.deepEqual(trainBpe('abcd abcd', 257).merges, [[97, 98]]);
  // "aaaaa" counts "aa" four times; merging gives X X a, then "XX".
  const model = trainBpe('aaaaa', 258);
  assert.deepEqual(model.merges, [
    [97, 97],
    [256, 256],
  ]);
  assert.deepEqual(idsOf(createBpeTokenizer(model), 'aaaaa'), [257, 97]);
  assert.deepEqual(idsOf(createBpeTokenizer(model), 'aaa'), [256, 97]);
});

test('the incremental trainer makes the same merges as the direct recount', () => {
  const random = seededRandom(7);
  const alphabets = ['ab', 'abc', 'aab ', 'the cat sat on the mat ', 'éè😀 a', '\u0000\u00ff\u0100'];
  for (let round = 0; round < 150; round++) {
    let corpus: string;
    if (round % 3 === 0) {
      corpus = randomText(random, 60, false);
    } else {
      const alphabet = [...pick(random, alphabets)];
      corpus = Array.from({ length: randomInt(random, 200) }, () => pick(random, alphabet)).join('');
    }
    const vocabSize = 256 + randomInt(random, 80);
    const bytes = [...Buffer.from(corpus, 'utf8')];
    const expected = referenceTrain(bytes, vocabSize);
    const model = trainBpe(corpus, vocabSize);
    assert.deepEqual(model.merges, expected, `corpus ${JSON.stringify(corpus)}, vocab ${vocabSize}`);
    // Encoding replays training: the corpus encodes to what training left, and so does other text.
    const tokenizer = createBpeTokenizer(model);
    assert.deepEqual(idsOf(tokenizer, corpus), referenceEncode(bytes, expected));
    const other = randomText(random, 30, false) + [...corpus].slice(0, 20).join(''); // whole code points
    assert.deepEqual(idsOf(tokenizer, other), referenceEncode([...Buffer.from(other, 'utf8')], expected));
  }
});

test('same merges as the direct recount on real text (The Verdict, vocab 300)', () => {
  const text = verdict.slice(0, 6_000);
  const expected = referenceTrain([...Buffer.from(text, 'utf8')], 300);
  assert.deepEqual(trainBpe(text, 300).merges, expected);
});

test('property: decode(encode(x)) === x for any string, with spans that cover the input', () => {
  const model = trainBpe(loadCorpus(poemsDir), BPE_DEFAULT_VOCAB);
  const tokenizer = createBpeTokenizer(model);
  const random = seededRandom(1_234);
  let splitCharacters = 0;
  for (let round = 0; round < 500; round++) {
    const text = randomText(random, 50, true); // lone surrogates included
    const tokens = tokenizer.encode(text);
    assert.equal(tokenizer.decode(tokens.map((token) => token.id)), text, `round ${round}: ${JSON.stringify(text)}`);
    assertCover(text, tokens);
    const whole = wholeCharacterTokens(tokens);
    splitCharacters += tokens.length - whole.length;
    for (const token of whole) assert.equal(tokenizer.decode([token.id]), token.text);
  }
  // The inputs did exercise tokens that hold part of a character.
  assert.ok(splitCharacters > 0);
});

test('a token inside a multi-byte character spans that whole character', () => {
  const tokenizer = createBpeTokenizer(trainBpe('plain ascii corpus', 256)); // bytes only
  const tokens = tokenizer.encode('a😀b');
  assert.deepEqual(
    tokens.map((token) => [token.id, token.start, token.end]),
    [
      [0x61, 0, 1],
      [0xf0, 1, 3],
      [0x9f, 1, 3],
      [0x98, 1, 3],
      [0x80, 1, 3],
      [0x62, 3, 4],
    ],
  );
  assert.equal(tokenizer.idToToken(0xf0), '<0xF0>');
  assert.equal(tokenizer.decode([0xf0, 0x9f]), '\ufffd'); // a cut-off character becomes one U+FFFD
  // A lone surrogate is 3 bytes (WTF-8) and comes back exactly.
  assert.equal(tokenizer.decode(idsOf(tokenizer, 'x\ud800y')), 'x\ud800y');
});

test('idToToken shows merged bytes as text', () => {
  const tokenizer = createBpeTokenizer(trainBpe('café café café', 260));
  const shown = Array.from({ length: tokenizer.vocabSize - 256 }, (_, i) => tokenizer.idToToken(256 + i));
  assert.ok(shown.every((entry) => entry.length > 0));
  assert.ok(shown.some((entry) => entry.includes('é') || entry.includes('<0xC3>')));
  assert.equal(tokenizer.idToToken(32), ' ');
});

test('vocab size: limits with the fix in the message; training stops when the corpus runs out', () => {
  for (const size of [255, 0, -1, 256.5, Number.NaN, 65_537, 1e9, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => trainBpe('some text', size),
      (error: unknown) => error instanceof EngineError && /vocab size/.test(error.message) && error.setting === 'bpeVocabSize',
      `vocab size ${size}`,
    );
  }
  assert.match(String(catchError(() => trainBpe('x', 100))), /below the minimum 256/);
  assert.match(String(catchError(() => trainBpe('x', 100_000))), /above the maximum 65536/);
  assert.equal(createBpeTokenizer(trainBpe('some text', 256)).vocabSize, 256);
  // "abcab" has 4 pairs; after "ab" and "ab"+"c" the text is two tokens, then one: 3 merges at most.
  const short = trainBpe('abcab', 65_536);
  assert.equal(short.merges.length, 3);
  assert.equal(createBpeTokenizer(short).vocabSize, 259);
  assert.deepEqual(trainBpe('', 512).merges, []);
});

test('bad ids and bad models are refused with a clear message', () => {
  const tokenizer = createBpeTokenizer(trainBpe('aaabdaaabac', 259));
  for (const id of [-1, 259, 2.5]) {
    assert.throws(() => tokenizer.decode([id]), (error: unknown) => error instanceof EngineError && /0 to 258/.test(error.message));
  }
  const bad: unknown[] = [
    null,
    { merges: [] },
    { format: 'llm101-bpe/1', merges: 'x' },
    { format: 'llm101-bpe/1', merges: [[97, 256]] }, // uses the token it defines
    { format: 'llm101-bpe/1', merges: [[97, 98], [97, 98]] },
    { format: 'llm101-bpe/1', merges: [[97]] },
    { format: 'llm101-bpe/1', merges: [[97, -1]] },
  ];
  for (const value of bad) {
    assert.throws(() => parseBpeModel(value), (error: unknown) => error instanceof EngineError && /train again/.test(error.message), JSON.stringify(value));
  }
});

test('a model survives JSON and gives the same tokens', () => {
  const model = trainBpe(verdict, 400);
  const restored = parseBpeModel(JSON.parse(JSON.stringify(model)));
  const text = 'I HAD always thought Jack Gisburn rather a cheap genius';
  assert.deepEqual(idsOf(createBpeTokenizer(restored), text), idsOf(createBpeTokenizer(model), text));
});

test('cache: key from content and size; the same corpus trains once', () => {
  const key = bpeCacheKey('corpus', 300);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(bpeCacheKey('corpus', 300), key);
  assert.notEqual(bpeCacheKey('corpus', 301), key);
  assert.notEqual(bpeCacheKey('corpus.', 300), key);
  clearBpeCache();
  const progress: number[] = [];
  const first = trainBpeCached(verdict, 300, { onProgress: (fraction) => progress.push(fraction) });
  assert.ok(progress.length > 2);
  const again: number[] = [];
  const second = trainBpeCached(verdict, 300, { onProgress: (fraction) => again.push(fraction) });
  assert.equal(second, first);
  assert.deepEqual(again, [1]);
  clearBpeCache();
  assert.notEqual(trainBpeCached(verdict, 300), first);
});

test('progress runs from 0 to 1; an abort stops training with CancelledError', () => {
  const progress: number[] = [];
  trainBpe(verdict, 400, { onProgress: (fraction) => progress.push(fraction) });
  assert.equal(progress[0], 0);
  assert.equal(progress.at(-1), 1);
  assert.ok(progress.every((fraction, i) => i === 0 || fraction >= (progress[i - 1] ?? 0)));

  const early = new AbortController();
  early.abort();
  assert.throws(() => trainBpe(verdict, 400, { signal: early.signal }), CancelledError);

  const midway = new AbortController();
  let seen = 0;
  assert.throws(
    () =>
      trainBpe(verdict, 400, {
        signal: midway.signal,
        onProgress: (fraction) => {
          seen = fraction;
          if (fraction >= 0.5) midway.abort();
        },
      }),
    CancelledError,
  );
  assert.ok(seen >= 0.5 && seen < 1);
});

/** Runs `train`, returning its model and the wall-clock and CPU time it took (CPU time is the
 * fairer number on a busy machine). */
function timed(train: () => BpeModel): { model: BpeModel; took: string } {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const model = train();
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { model, took: `${wall.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU` };
}

/** A seeded 5 MB corpus of words, sentences and line breaks. */
function generatedCorpus(bytes: number): string {
  const random = seededRandom(5);
  const words = [
    'the', 'of', 'and', 'a', 'to', 'in', 'light', 'sea', 'word', 'attention', 'token', 'reading', 'stone',
    'river', 'winter', 'kitchen', 'memory', 'tide', 'speech', 'city', 'night', 'café', 'naïve', 'déjà', 'vu',
    'über', '東京', '🙂', 'quietly', 'remembered', 'listening', 'between', 'through', 'everything',
  ];
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const sentence = Array.from({ length: 3 + randomInt(random, 12) }, () => pick(random, words)).join(' ');
    const line = `${sentence[0]?.toUpperCase() ?? ''}${sentence.slice(1)}${pick(random, ['.', ',', '?', '!', ';'])}${random() < 0.2 ? '\n' : ' '}`;
    parts.push(line);
    length += Buffer.byteLength(line);
  }
  return parts.join('');
}

test('timing: BPE training on the bundled poems and on a generated 5 MB corpus', () => {
  const poems = loadCorpus(poemsDir);
  const small = timed(() => trainBpe(poems, BPE_DEFAULT_VOCAB));
  console.log(`# BPE train, bundled poems (${textToBytes(poems).length} bytes) -> vocab ${256 + small.model.merges.length}: ${small.took}`);
  const big = generatedCorpus(5 * 2 ** 20);
  const { model, took } = timed(() => trainBpe(big, BPE_DEFAULT_VOCAB));
  console.log(`# BPE train, generated corpus (${(textToBytes(big).length / 2 ** 20).toFixed(1)} MiB) -> vocab ${256 + model.merges.length}: ${took}`);
  assert.equal(model.merges.length, BPE_DEFAULT_VOCAB - 256);
  const t1 = performance.now();
  const tokens = createBpeTokenizer(model).encode(big.slice(0, 100_000));
  console.log(`# BPE encode 100,000 characters -> ${tokens.length} tokens: ${(performance.now() - t1).toFixed(0)} ms`);
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
