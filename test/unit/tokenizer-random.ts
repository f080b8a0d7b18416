// Seeded random inputs for the tokenizer property tests (no dependencies): the same seed gives
// the same strings on every run, so a failure names a seed that reproduces it.
import assert from 'node:assert/strict';
import type { Token } from '../../src/engine/types';

/** mulberry32: a small 32-bit generator; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[randomInt(random, items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

const WORDS = ['the', 'sea', 'reads', 'a', 'word', 'café', 'naïve', 'Tokyo', '東京', 'λόγος', 'слово', '--', '...'];

/**
 * A random string mixing ASCII, whitespace, punctuation, Latin-1, combining marks, CJK, Greek,
 * emoji (astral, with skin tones and ZWJ sequences), arbitrary astral code points, the special
 * `<|endoftext|>`, and, if `loneSurrogates`, unpaired surrogate halves.
 */
export function randomText(random: () => number, maxLength: number, loneSurrogates: boolean): string {
  const pieces: string[] = [];
  const count = randomInt(random, maxLength + 1);
  const range = (from: number, to: number): string => String.fromCodePoint(from + randomInt(random, to - from + 1));
  for (let i = 0; i < count; i++) {
    const kind = randomInt(random, loneSurrogates ? 14 : 13);
    switch (kind) {
      case 0:
        pieces.push(range(0x20, 0x7e));
        break;
      case 1:
        pieces.push(pick(random, [' ', '  ', '\n', '\t', '\r\n', '\u00a0', '\u3000']));
        break;
      case 2:
        pieces.push(pick(random, [',', '.', ':', ';', '?', '_', '!', '"', '(', ')', "'", '--', '-', '—', '…']));
        break;
      case 3:
        pieces.push(range(0xa0, 0xff));
        break;
      case 4:
        pieces.push(range(0x61, 0x7a) + range(0x300, 0x36f)); // letter + combining mark
        break;
      case 5:
        pieces.push(range(0x4e00, 0x9fff));
        break;
      case 6:
        pieces.push(range(0x1f300, 0x1f64f)); // emoji
        break;
      case 7:
        pieces.push(pick(random, ['👍🏽', '👩‍💻', '👨‍👩‍👧', '🏳️‍🌈', '🇫🇷', 'é', 'é']));
        break;
      case 8:
        pieces.push(range(0x10000, 0x10ffff));
        break;
      case 9:
        pieces.push(pick(random, WORDS));
        break;
      case 10:
        pieces.push('<|endoftext|>');
        break;
      case 11:
        pieces.push(range(0x370, 0x3ff));
        break;
      case 12:
        pieces.push(range(0x0, 0x1f)); // control characters, NUL included
        break;
      default:
        pieces.push(String.fromCharCode(range(0xd800, 0xdfff).charCodeAt(0))); // a lone surrogate half
    }
  }
  return pieces.join('');
}

/** Every token's text is its slice of the input, and spans are non-empty and in order. */
export function assertSpans(input: string, tokens: readonly Token[]): void {
  let previous: Token | undefined;
  for (const [i, token] of tokens.entries()) {
    assert.equal(token.text, input.slice(token.start, token.end), `token ${i} text vs its slice`);
    assert.ok(token.start >= 0 && token.start < token.end && token.end <= input.length, `token ${i} span ${token.start}..${token.end}`);
    if (previous !== undefined) {
      assert.ok(token.start >= previous.start && token.end >= previous.end, `token ${i} is not monotone`);
    }
    previous = token;
  }
}

/** For the byte-level tokenizers: spans are in order and cover the input without gaps. */
export function assertCover(input: string, tokens: readonly Token[]): void {
  assertSpans(input, tokens);
  if (input.length === 0) {
    assert.equal(tokens.length, 0);
    return;
  }
  assert.equal(tokens[0]?.start, 0, 'first token starts at 0');
  assert.equal(tokens.at(-1)?.end, input.length, 'last token ends at the input length');
  for (let i = 1; i < tokens.length; i++) {
    const previousEnd = tokens[i - 1]?.end ?? 0;
    assert.ok((tokens[i]?.start ?? 0) <= previousEnd, `gap before token ${i}`);
  }
}

/** Tokens whose characters no neighbour shares (the ones that map to whole characters). */
export function wholeCharacterTokens(tokens: readonly Token[]): Token[] {
  return tokens.filter((token, i) => {
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    return (before === undefined || before.end <= token.start) && (after === undefined || after.start >= token.end);
  });
}
