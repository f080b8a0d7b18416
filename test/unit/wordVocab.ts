// A word-tokenizer corpus whose vocabulary has exactly `vocabSize` entries with known ids, so a
// text reaches a fixture model (whose vocabulary is tiny) with the fixture's own token ids:
// words w00 … w(V−3) sort into ids 0 … V−3, then <|endoftext|> (V−2) and <|unk|> (V−1), which
// any word outside the corpus becomes.

import * as fs from 'node:fs';
import * as path from 'node:path';

const word = (id: number) => `w${String(id).padStart(2, '0')}`;

/** Writes the corpus into `folder` and returns its path. */
export function writeWordCorpus(folder: string, vocabSize: number): string {
  const file = path.join(folder, `words-${vocabSize}.txt`);
  fs.writeFileSync(file, Array.from({ length: vocabSize - 2 }, (_, id) => word(id)).join(' '));
  return file;
}

/** The text the word tokenizer of writeWordCorpus(…, vocabSize) turns into exactly `ids`. */
export function textOfIds(ids: readonly number[], vocabSize: number): string {
  return ids
    .map((id) => {
      if (id === vocabSize - 2) return '<|endoftext|>';
      if (id === vocabSize - 1) return 'unknown';
      if (id < 0 || id >= vocabSize) throw new Error(`textOfIds: id ${id} has no word in a vocabulary of ${vocabSize}`);
      return word(id);
    })
    .join(' ');
}
