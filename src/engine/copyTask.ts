// The copying task: a generated corpus on which a two-block model learns in-context copying with
// the textbook pair of heads, a previous-token head in block 1 and an induction head in block 2.
// `llm101 train --task copying` and Train Model's "Copying task" train on it; the bundled
// copying.safetensors is one such run (scripts/train-sample.mjs).
//
// Each line is 4–24 words from a fixed vocabulary of 50, written two or three times in a row
// ("fox lamp rain fox lamp rain"). Within a line, each word after the second is, with probability
// 1/2, a fixed function of the word two before it (the skip rule: word i → COPY_WORDS[(7i + 3) mod
// 50]) and otherwise drawn at random.
// - A later copy of a line is predictable only by looking back: find where the current word stood
//   before and copy the word that followed it. That is what an induction head does, and random
//   words leave no other way (bigram statistics cannot stand in for it).
// - The skip rule is why the textbook circuit forms, and forms fast. To apply it, each position
//   needs the word before it, so block 1's head becomes a previous-token head within a few hundred
//   steps. Block 2's head can then match "the word before that position" with the current word:
//   the induction head, which forms a few hundred steps later. Measured (one head per layer, the
//   recipe in train-sample.mjs): without the rule, on the same lines, the loss sat at ln 50 for
//   3,000 steps and the model learned to copy with a blurred look-back by position (its block 1
//   attended about 10–16 tokens back, never to the previous token) instead of with an induction head.
// - Random words otherwise: the first copy of a line stays unpredictable (the test asks ≥ 3 nats).
// Words are drawn by the engine's mt19937 (TorchGenerator), so a seed gives the same text anywhere.

import { TorchGenerator } from './rng';

/** The vocabulary: 50 short, concrete, distinct words (no punctuation: one word-tokenizer piece each). */
export const COPY_WORDS: readonly string[] = [
  'apple', 'arrow', 'basket', 'bell', 'bird', 'boat', 'bone', 'book', 'bottle', 'bread',
  'brick', 'bridge', 'brush', 'bucket', 'candle', 'cart', 'chair', 'cloud', 'coat', 'coin',
  'comb', 'crow', 'cup', 'desk', 'door', 'drum', 'egg', 'feather', 'fence', 'field',
  'fish', 'flag', 'flower', 'fork', 'fox', 'frog', 'garden', 'gate', 'glass', 'glove',
  'goat', 'hammer', 'hat', 'hill', 'horse', 'house', 'ink', 'iron', 'jar', 'key',
];

/** The skip rule: the word a word two before implies (a permutation of the vocabulary: 7 is prime to 50). */
export function skipRuleWord(index: number): number {
  return (7 * index + 3) % COPY_WORDS.length;
}

/** The task's sizes: lines, words a line (inclusive), copies a line (inclusive), the rule's probability. */
export const COPY_TASK = { lines: 60_000, minWords: 4, maxWords: 24, minCopies: 2, maxCopies: 3, ruleProbability: 0.5, seed: 7 } as const;

/** `count` lines of the task, as vocabulary indices (each line's copies included). */
export function copyTaskLines(count: number = COPY_TASK.lines, seed: number = COPY_TASK.seed): number[][] {
  const generator = new TorchGenerator(seed);
  const below = (n: number): number => generator.nextUint32() % n;
  const lines: number[][] = [];
  for (let i = 0; i < count; i++) {
    const length = COPY_TASK.minWords + below(COPY_TASK.maxWords - COPY_TASK.minWords + 1);
    const words: number[] = [];
    for (let k = 0; k < length; k++) {
      const ruled = k >= 2 && generator.nextFloat() < COPY_TASK.ruleProbability;
      words.push(ruled ? skipRuleWord(words[k - 2]!) : below(COPY_WORDS.length));
    }
    const copies = COPY_TASK.minCopies + below(COPY_TASK.maxCopies - COPY_TASK.minCopies + 1);
    lines.push(Array.from({ length: copies }, () => words).flat());
  }
  return lines;
}

/** The task's corpus as text, one line a row. */
export function copyTaskText(count: number = COPY_TASK.lines, seed: number = COPY_TASK.seed): string {
  return `${copyTaskLines(count, seed).map((line) => line.map((i) => COPY_WORDS[i]).join(' ')).join('\n')}\n`;
}

/** The timelapse probe of the task: 12 words written twice (a line as the task writes them, without the rule). */
export function copyTaskProbe(): string {
  const generator = new TorchGenerator(2024);
  const pool = COPY_WORDS.map((_, i) => i);
  const words = Array.from({ length: 12 }, () => pool.splice(generator.nextUint32() % pool.length, 1)[0]!);
  const line = words.map((i) => COPY_WORDS[i]).join(' ');
  return `${line} ${line}`;
}
