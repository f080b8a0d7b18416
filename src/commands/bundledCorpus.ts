// The training picker's words for the bundled corpus, counted from the folder it offers (no VS
// Code here, so the unit tests read it).
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the bundled corpus holds, counted from the folder the picker offers: its poems and words,
 * and how many of them the open folder shows (the playground's samples are a few of them).
 */
export function bundledCorpusDetail(corpusDir: string, folders: readonly string[]): string {
  const poems = fs.readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort();
  let words = 0;
  for (const poem of poems) words += fs.readFileSync(path.join(corpusDir, poem), 'utf8').split(/\s+/).filter(Boolean).length;
  const here = new Set(folders.flatMap((folder) => (fs.existsSync(folder) ? fs.readdirSync(folder) : [])));
  const shown = poems.filter((p) => here.has(p)).length;
  const all = `all ${poems.length} poems LLM 101 ships with (${words.toLocaleString('en-US')} words)`;
  return shown > 0 && shown < poems.length ? `${all}; this folder shows ${shown} of them` : all;
}
