// The copying task's corpus (src/engine/copyTask.ts): what its lines are made of, drawn the same
// way on every run, and the probe its training timelapse shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COPY_TASK, COPY_WORDS, copyTaskLines, copyTaskProbe, copyTaskText, skipRuleWord } from '../../src/engine/copyTask';
import { learnTokenizer } from '../../src/engine/tokenizer';

test('each line is 4-24 words written 2 or 3 times; about half the words after the second follow the skip rule', () => {
  const lines = copyTaskLines(2000, 11);
  let ruled = 0;
  let ruleable = 0;
  const lengths = new Set<number>();
  const copies = new Set<number>();
  for (const line of lines) {
    const times = [2, 3].find((k) => line.length % k === 0 && line.length / k >= COPY_TASK.minWords && line.length / k <= COPY_TASK.maxWords
      && line.every((w, i) => w === line[i % (line.length / k)]));
    assert.ok(times, `a line of ${line.length} words is one line written 2 or 3 times: ${line.join(' ')}`);
    const n = line.length / times;
    lengths.add(n);
    copies.add(times);
    for (let i = 2; i < n; i++) {
      ruleable += 1;
      if (line[i] === skipRuleWord(line[i - 2]!)) ruled += 1;
    }
    assert.ok(line.every((w) => Number.isInteger(w) && w >= 0 && w < COPY_WORDS.length));
  }
  assert.deepEqual([...copies].sort(), [2, 3]);
  assert.equal(Math.min(...lengths), 4);
  assert.equal(Math.max(...lengths), 24);
  // ruled with probability 1/2, plus the 1/50 chance that a random word is the rule's anyway
  const share = ruled / ruleable;
  assert.ok(Math.abs(share - (0.5 + 0.5 / 50)) < 0.02, `share of ruled words ${share.toFixed(3)}`);
});

test('the skip rule is a permutation of the 50 words, so each word two back names one next word', () => {
  assert.equal(new Set(COPY_WORDS).size, 50);
  assert.deepEqual(COPY_WORDS.map((_, i) => skipRuleWord(i)).sort((a, b) => a - b), COPY_WORDS.map((_, i) => i));
});

test('the same seed gives the same text; the word tokenizer reads it as the 50 words', () => {
  assert.equal(copyTaskText(300, 7), copyTaskText(300, 7));
  assert.notEqual(copyTaskText(300, 7), copyTaskText(300, 8));
  const text = copyTaskText(300, 7);
  assert.equal(text.split('\n').length, 301);
  const { tokenizer } = learnTokenizer('word', text, 0);
  assert.equal(tokenizer.vocabSize, COPY_WORDS.length + 2);
  const probe = copyTaskProbe();
  const words = probe.split(' ');
  assert.equal(words.length, 24);
  assert.deepEqual(words.slice(12), words.slice(0, 12), 'twelve words written twice');
  assert.equal(new Set(words).size, 12, 'twelve different words: each earlier occurrence is unique');
  assert.equal(tokenizer.encode(probe).length, 24);
});
