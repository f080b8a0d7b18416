// Byte-level byte-pair encoding trained on a corpus (the algorithm GPT-2's tokenizer is built
// with, here without GPT-2's pre-splitting into words): the vocabulary starts as the 256 byte
// values, and training repeatedly replaces the most frequent adjacent pair of tokens by a new
// token until the vocabulary has the requested size. Encoding replays the merges in the order they
// were learned, so any text, in any script, encodes without unknown tokens.
import { createHash } from 'node:crypto';
import { CancelledError, EngineError, type CancelSignal } from '../config';
import type { Token, Tokenizer } from '../types';
import { MAX_CORPUS_BYTES } from '../corpus';
import { bytesForDisplay, bytesToText, charSpan, textToByteMap, textToBytes } from './bytes';

export const BPE_MIN_VOCAB = 256;
export const BPE_DEFAULT_VOCAB = 512;
/** Token ids must fit 16 bits; a larger vocabulary is also far more than any corpus here supports. */
export const BPE_MAX_VOCAB = 65_536;
const FORMAT = 'llm101-bpe/1';

/** A trained BPE, plain data so that it can be cached, stored as JSON and posted between threads. */
export interface BpeModel {
  readonly format: typeof FORMAT;
  /** merges[i] = [left, right]: the pair replaced by token 256 + i; i is also the merge's rank. */
  readonly merges: ReadonlyArray<readonly [number, number]>;
}

export interface TrainBpeOptions {
  /** Checked while counting and between merges; once aborted, training throws CancelledError. */
  signal?: CancelSignal;
  /** Called with 0, then with the share of merges done (at most once per percent), then 1. */
  onProgress?: (fraction: number) => void;
}

/** The setting a BPE vocabulary size comes from (the caller words where to set it). */
const VOCAB = { setting: 'bpeVocabSize' } as const;

/** Throws, with the fix, unless `vocabSize` is an integer in [256, 65536]. */
export function checkBpeVocabSize(vocabSize: number): void {
  if (!Number.isInteger(vocabSize)) {
    throw new EngineError(`BPE vocab size must be a whole number, got ${vocabSize}: set it to e.g. ${BPE_DEFAULT_VOCAB}`, VOCAB);
  }
  if (vocabSize < BPE_MIN_VOCAB) {
    throw new EngineError(
      `BPE vocab size ${vocabSize} is below the minimum ${BPE_MIN_VOCAB} (one token per byte value): set it to ${BPE_MIN_VOCAB} or more (default ${BPE_DEFAULT_VOCAB})`,
      VOCAB,
    );
  }
  if (vocabSize > BPE_MAX_VOCAB) {
    throw new EngineError(
      `BPE vocab size ${vocabSize} is above the maximum ${BPE_MAX_VOCAB}: set it to at most ${BPE_MAX_VOCAB} (default ${BPE_DEFAULT_VOCAB})`,
      VOCAB,
    );
  }
}

function stopIfAborted(signal: CancelSignal | undefined): void {
  if (signal?.aborted === true) throw new CancelledError();
}

/** A binary max-heap of (key, value) pairs held in typed arrays. */
class MaxHeap {
  private keys = new Float64Array(1024);
  private values = new Int32Array(1024);
  size = 0;

  push(key: number, value: number): void {
    if (this.size === this.keys.length) {
      const keys = new Float64Array(this.size * 2);
      keys.set(this.keys);
      this.keys = keys;
      const values = new Int32Array(this.size * 2);
      values.set(this.values);
      this.values = values;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentKey = this.keys[parent] ?? 0;
      if (parentKey >= key) break;
      this.keys[i] = parentKey;
      this.values[i] = this.values[parent] ?? 0;
      i = parent;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }

  get topKey(): number {
    return this.keys[0] ?? 0;
  }

  get topValue(): number {
    return this.values[0] ?? 0;
  }

  pop(): void {
    const last = --this.size;
    const key = this.keys[last] ?? 0;
    const value = this.values[last] ?? 0;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && (this.keys[child + 1] ?? 0) > (this.keys[child] ?? 0)) child++;
      const childKey = this.keys[child] ?? 0;
      if (childKey <= key) break;
      this.keys[i] = childKey;
      this.values[i] = this.values[child] ?? 0;
      i = child;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }
}

/**
 * The positions where one pair was created, in ascending order. Appending keeps the order because
 * a pair receives all its occurrences in the merge step that creates it, and that step walks the
 * text left to right (see `trainBpe`). Entries go stale as neighbouring merges destroy them;
 * `head` skips the stale ones at the front.
 */
class PositionList {
  private items: Int32Array;
  private head = 0;
  private size = 0;

  constructor(capacity: number) {
    this.items = new Int32Array(Math.max(capacity, 4));
  }

  push(position: number): void {
    if (this.size > 0 && position <= (this.items[this.size - 1] ?? 0)) {
      throw new Error(`BPE training bug: position ${position} appended out of order`);
    }
    if (this.size === this.items.length) {
      const items = new Int32Array(this.size * 2);
      items.set(this.items);
      this.items = items;
    }
    this.items[this.size++] = position;
  }

  /** The first position for which `isCurrent` holds, dropping the stale ones before it; -1 if none. */
  first(isCurrent: (position: number) => boolean): number {
    while (this.head < this.size && !isCurrent(this.items[this.head] ?? 0)) this.head++;
    return this.head < this.size ? (this.items[this.head] ?? 0) : -1;
  }

  /** Empties the list, returning what it held (stale entries included), in ascending order. */
  takeAll(): Int32Array {
    const positions = this.items.subarray(this.head, this.size);
    this.items = new Int32Array(0);
    this.head = 0;
    this.size = 0;
    return positions;
  }
}

const pairKey = (left: number, right: number): number => left * 65_536 + right;

/** Positions are byte indices < 2^26 (the corpus cap), so (count, position) packs into one double. */
const POSITION_RANGE = 2 ** 26;

/**
 * Trains a BPE with `vocabSize - 256` merges (fewer if the corpus runs out of pairs first).
 *
 * Each step merges the pair with the highest count, counting every adjacent position (so "aaa"
 * holds "aa" twice); among equal counts it takes the pair whose first occurrence comes earliest in
 * the current text. A step replaces the occurrences left to right ("aaa" -> "Xa").
 *
 * Instead of recounting the whole text at every step, it keeps:
 *  - the text as a doubly linked list of tokens over the byte positions (node i starts as byte i;
 *    a merge keeps the left node and unlinks the right one, so nodes stay in text order);
 *  - per pair, its exact count and the ascending list of positions where it was created. A step
 *    only ever creates pairs that hold its new token, so every pair gets all its occurrences in
 *    the step that makes it, in text order, and later only loses them. A lost occurrence stays
 *    in the list as a stale entry, recognised by `pairAt` and skipped when met; it never comes
 *    back, since the pair at a position only changes to a pair made later;
 *  - a max-heap over (count, earliest position) with one fresh entry per changed pair per step.
 * A merge step then costs time in proportion to the occurrences it touches, so the whole run is
 * O(N) list work plus O(changes · log) heap work, instead of a full recount per merge.
 */
export function trainBpe(corpus: string, vocabSize: number, options: TrainBpeOptions = {}): BpeModel {
  checkBpeVocabSize(vocabSize);
  const { signal, onProgress } = options;
  stopIfAborted(signal);
  const bytes = textToBytes(corpus);
  const n = bytes.length;
  if (n > MAX_CORPUS_BYTES) {
    throw new EngineError(
      `the corpus is ${(n / 2 ** 20).toFixed(1)} MiB of UTF-8, over the ${MAX_CORPUS_BYTES / 2 ** 20} MiB BPE training limit: use a smaller file or folder`,
      { setting: 'corpusPath' },
    );
  }
  const mergesWanted = vocabSize - BPE_MIN_VOCAB;
  const merges: Array<readonly [number, number]> = [];
  onProgress?.(0);

  const symbol = new Uint16Array(n); // (N) token id at each live node
  symbol.set(bytes);
  const next = new Int32Array(n); // (N) next live node, -1 at the end, -2 once unlinked
  const prev = new Int32Array(n); // (N) previous live node, -1 at the start
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // (N) id of the pair (node i, next node), -1 if node i is unlinked or last. An entry of a
  // pair's position list is current exactly when pairAt[position] is still that pair.
  const pairAt = new Int32Array(n).fill(-1);

  const pairLeft: number[] = [];
  const pairRight: number[] = [];
  const pairCount: number[] = [];
  const occurrences: PositionList[] = [];
  const newPair = (left: number, right: number, capacity: number): number => {
    const id = pairLeft.length;
    pairLeft.push(left);
    pairRight.push(right);
    pairCount.push(0);
    occurrences.push(new PositionList(capacity));
    return id;
  };

  // The byte pairs: counts first, so that each position list is allocated at its final size.
  const bytePairCount = new Int32Array(65_536); // (256 * 256)
  for (let i = 0; i + 1 < n; i++) {
    if ((i & 0xfffff) === 0) stopIfAborted(signal);
    const key = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
    bytePairCount[key] = (bytePairCount[key] ?? 0) + 1;
  }
  const bytePairId = new Int32Array(65_536).fill(-1); // (256 * 256)
  for (let key = 0; key < 65_536; key++) {
    const count = bytePairCount[key] ?? 0;
    if (count === 0) continue;
    const id = newPair(key >> 8, key & 0xff, count);
    pairCount[id] = count;
    bytePairId[key] = id;
  }
  for (let i = 0; i + 1 < n; i++) {
    const id = bytePairId[((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)] ?? -1;
    pairAt[i] = id;
    occurrences[id]?.push(i);
  }

  /** The pair's first current position, dropping stale entries on the way; -1 if none. */
  const firstPosition = (id: number): number => occurrences[id]?.first((position) => pairAt[position] === id) ?? -1;
  // Higher count first; for equal counts the earlier first position first.
  const priority = (count: number, first: number): number => count * POSITION_RANGE + (POSITION_RANGE - 1 - first);

  const best = new MaxHeap();
  for (let id = 0; id < pairLeft.length; id++) best.push(priority(pairCount[id] ?? 0, firstPosition(id)), id);

  // Pairs whose count changed during the current merge step get one fresh heap entry afterwards.
  const changed: number[] = [];
  let changedStamp = new Int32Array(0); // (pairs) the step at which each pair was last marked
  const markChanged = (id: number): void => {
    if (id >= changedStamp.length) {
      const grown = new Int32Array(Math.max(2 * changedStamp.length, id + 1, 1024)).fill(-1);
      grown.set(changedStamp);
      changedStamp = grown;
    }
    if (changedStamp[id] !== merges.length) {
      changedStamp[id] = merges.length;
      changed.push(id);
    }
  };
  const addOccurrence = (id: number, position: number): void => {
    pairAt[position] = id;
    pairCount[id] = (pairCount[id] ?? 0) + 1;
    occurrences[id]?.push(position);
    markChanged(id);
  };
  const removeOccurrence = (id: number): void => {
    // Its position stays in the pair's list and is recognised as stale later.
    pairCount[id] = (pairCount[id] ?? 0) - 1;
    markChanged(id);
  };

  // Every pair a step creates contains the step's new token, so it is a new pair: it is found by
  // its other token, in tables stamped with the new token's id (no reset between steps).
  const pairWithOnRight = new Int32Array(vocabSize); // (vocab) id of (merged, y) by y
  const stampOnRight = new Int32Array(vocabSize).fill(-1);
  const pairWithOnLeft = new Int32Array(vocabSize); // (vocab) id of (x, merged) by x
  const stampOnLeft = new Int32Array(vocabSize).fill(-1);
  const pairWithMerged = (left: number, right: number, merged: number): number => {
    if (left === merged) {
      if (stampOnRight[right] !== merged) {
        stampOnRight[right] = merged;
        pairWithOnRight[right] = newPair(left, right, 4);
      }
      return pairWithOnRight[right] ?? -1;
    }
    if (stampOnLeft[left] !== merged) {
      stampOnLeft[left] = merged;
      pairWithOnLeft[left] = newPair(left, right, 4);
    }
    return pairWithOnLeft[left] ?? -1;
  };

  let reportedPercent = 0;
  while (merges.length < mergesWanted) {
    stopIfAborted(signal);
    let chosen = -1;
    while (best.size > 0) {
      const key = best.topKey;
      const id = best.topValue;
      best.pop();
      const count = pairCount[id] ?? 0;
      // An entry is current only if it still describes the pair; otherwise a fresher one exists.
      if (count > 0 && key === priority(count, firstPosition(id))) {
        chosen = id;
        break;
      }
    }
    if (chosen < 0) break; // the corpus is down to one token: nothing left to merge

    const left = pairLeft[chosen] ?? 0;
    const right = pairRight[chosen] ?? 0;
    const merged = BPE_MIN_VOCAB + merges.length;
    // Ascending, so the merges happen left to right. The chosen pair gets no new occurrences
    // (new pairs all hold the new token), so its list can be emptied up front.
    for (const at of occurrences[chosen]?.takeAll() ?? []) {
      if (pairAt[at] !== chosen) continue; // stale, or overlapped by the merge just before ("aaa")
      const gone = next[at] ?? -1; // the right half, about to be unlinked
      const after = next[gone] ?? -1;
      const before = prev[at] ?? -1;
      if (before >= 0) removeOccurrence(pairAt[before] ?? -1);
      if (after >= 0) removeOccurrence(pairAt[gone] ?? -1);
      pairCount[chosen] = (pairCount[chosen] ?? 0) - 1;
      symbol[at] = merged;
      next[at] = after;
      if (after >= 0) prev[after] = at;
      next[gone] = -2;
      pairAt[gone] = -1;
      pairAt[at] = -1;
      if (before >= 0) addOccurrence(pairWithMerged(symbol[before] ?? 0, merged, merged), before);
      if (after >= 0) addOccurrence(pairWithMerged(merged, symbol[after] ?? 0, merged), at);
    }
    merges.push([left, right]);

    for (const id of changed) {
      const count = pairCount[id] ?? 0;
      if (count > 0) best.push(priority(count, firstPosition(id)), id);
    }
    changed.length = 0;

    const percent = Math.floor((100 * merges.length) / mergesWanted);
    if (percent > reportedPercent && merges.length < mergesWanted) {
      reportedPercent = percent;
      onProgress?.(merges.length / mergesWanted);
    }
  }
  onProgress?.(1);
  return { format: FORMAT, merges };
}

/** Checks that a value (e.g. read back from a cache) is a usable model; throws with the fix. */
export function parseBpeModel(value: unknown): BpeModel {
  const fail = (why: string): never => {
    throw new EngineError(`not a usable BPE model (${why}): delete the cached model and train again`);
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const { format, merges } = value as { format?: unknown; merges?: unknown };
  if (format !== FORMAT) return fail(`format is ${JSON.stringify(format)}, expected ${FORMAT}`);
  if (!Array.isArray(merges)) return fail('merges is not an array');
  if (merges.length > BPE_MAX_VOCAB - BPE_MIN_VOCAB) return fail(`${merges.length} merges, at most ${BPE_MAX_VOCAB - BPE_MIN_VOCAB}`);
  const seen = new Set<number>();
  const checked: Array<readonly [number, number]> = [];
  merges.forEach((merge: unknown, rank) => {
    const known = BPE_MIN_VOCAB + rank; // a merge may only use tokens that exist before it
    const ok =
      Array.isArray(merge) &&
      merge.length === 2 &&
      merge.every((id: unknown) => Number.isInteger(id) && (id as number) >= 0 && (id as number) < known);
    if (!ok) fail(`merge ${rank} is ${JSON.stringify(merge)}, expected two token ids below ${known}`);
    const [left, right] = merge as [number, number];
    if (seen.has(pairKey(left, right))) fail(`merge ${rank} repeats the pair [${left}, ${right}]`);
    seen.add(pairKey(left, right));
    checked.push([left, right]);
  });
  return { format: FORMAT, merges: checked };
}

class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe' as const;
  readonly vocabSize: number;
  /** Bytes of every token: 0..255 themselves, then each merge's two halves joined. */
  private readonly tokenBytes: Uint8Array[] = [];
  private readonly rankOf = new Map<number, number>();

  constructor(model: BpeModel) {
    for (let byte = 0; byte < BPE_MIN_VOCAB; byte++) this.tokenBytes.push(Uint8Array.of(byte));
    model.merges.forEach(([left, right], rank) => {
      const leftBytes = this.tokenBytes[left];
      const rightBytes = this.tokenBytes[right];
      if (leftBytes === undefined || rightBytes === undefined) {
        throw new EngineError(`BPE merge ${rank} uses a token that does not exist yet: check the model with parseBpeModel`);
      }
      const joined = new Uint8Array(leftBytes.length + rightBytes.length);
      joined.set(leftBytes);
      joined.set(rightBytes, leftBytes.length);
      this.tokenBytes.push(joined);
      this.rankOf.set(pairKey(left, right), rank);
    });
    this.vocabSize = this.tokenBytes.length;
  }

  /**
   * Applies the merges by rank: repeatedly the lowest-ranked pair present, all its occurrences left
   * to right, exactly as training did. A min-heap of (rank, position) gives that order directly,
   * because a merge only creates pairs of higher rank than its own.
   */
  encode(text: string): Token[] {
    const map = textToByteMap(text);
    const n = map.bytes.length;
    const symbol = new Int32Array(n);
    symbol.set(map.bytes);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const queue = new MaxHeap(); // key -(rank * 2^32 + position): lowest rank, then leftmost
    const enqueue = (position: number): void => {
      const right = next[position] ?? -1;
      if (right < 0) return;
      const rank = this.rankOf.get(pairKey(symbol[position] ?? 0, symbol[right] ?? 0));
      if (rank !== undefined) queue.push(-(rank * 2 ** 32 + position), position);
    };
    for (let i = 0; i + 1 < n; i++) enqueue(i);
    while (queue.size > 0) {
      const rank = Math.floor(-queue.topKey / 2 ** 32);
      const at = queue.topValue;
      queue.pop();
      const right = next[at] ?? -1;
      if (right < 0 || this.rankOf.get(pairKey(symbol[at] ?? 0, symbol[right] ?? 0)) !== rank) continue; // stale
      symbol[at] = BPE_MIN_VOCAB + rank;
      const after = next[right] ?? -1;
      next[at] = after;
      if (after >= 0) prev[after] = at;
      next[right] = -2;
      const before = prev[at] ?? -1;
      if (before >= 0) enqueue(before);
      enqueue(at);
    }
    const tokens: Token[] = [];
    for (let at = n > 0 ? 0 : -1; at >= 0; at = next[at] ?? -1) {
      const byteEnd = (next[at] ?? -1) >= 0 ? (next[at] ?? n) : n;
      const { start, end } = charSpan(map, at, byteEnd);
      tokens.push({ id: symbol[at] ?? 0, text: text.slice(start, end), start, end });
    }
    return tokens;
  }

  decode(ids: readonly number[]): string {
    const parts = ids.map((id) => this.bytesOf(id));
    const joined = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    return bytesToText(joined);
  }

  idToToken(id: number): string {
    return bytesForDisplay(this.bytesOf(id));
  }

  private bytesOf(id: number): Uint8Array {
    const bytes = Number.isInteger(id) ? this.tokenBytes[id] : undefined;
    if (bytes === undefined) {
      throw new EngineError(`token id ${id} is not in the BPE vocabulary: ids run from 0 to ${this.vocabSize - 1}`);
    }
    return bytes;
  }
}

/** The tokenizer of a trained (or cached) model. Its vocabSize is 256 + the number of merges. */
export function createBpeTokenizer(model: BpeModel): Tokenizer {
  return new BpeTokenizer(model);
}

/** Cache key of a training run: sha256 over the model format, the vocab size and the corpus. */
export function bpeCacheKey(corpus: string, vocabSize: number): string {
  return createHash('sha256').update(`${FORMAT}\n${vocabSize}\n`).update(corpus, 'utf8').digest('hex');
}

/** Models trained in this process, least recently used first. */
const modelCache = new Map<string, BpeModel>();
const MODEL_CACHE_LIMIT = 8;

/** A cached model for `key` (see `bpeCacheKey`), if this process has trained or stored one. */
export function getCachedBpeModel(key: string): BpeModel | undefined {
  const model = modelCache.get(key);
  if (model !== undefined) {
    modelCache.delete(key);
    modelCache.set(key, model);
  }
  return model;
}

/** Stores a model under `key`, e.g. one trained in a worker thread. */
export function cacheBpeModel(key: string, model: BpeModel): void {
  modelCache.delete(key);
  modelCache.set(key, model);
  while (modelCache.size > MODEL_CACHE_LIMIT) {
    const oldest = modelCache.keys().next();
    if (oldest.done === true) break;
    modelCache.delete(oldest.value);
  }
}

/** `trainBpe` through the in-memory cache: the same corpus and size train only once. */
export function trainBpeCached(corpus: string, vocabSize: number, options: TrainBpeOptions = {}): BpeModel {
  checkBpeVocabSize(vocabSize);
  const key = bpeCacheKey(corpus, vocabSize);
  const cached = getCachedBpeModel(key);
  if (cached !== undefined) {
    options.onProgress?.(1);
    return cached;
  }
  const model = trainBpe(corpus, vocabSize, options);
  cacheBpeModel(key, model);
  return model;
}

/** Empties the in-memory model cache (tests, or when memory matters). */
export function clearBpeCache(): void {
  modelCache.clear();
}
