// A tokenizer as a checkpoint carries it, so the checkpoint alone tokenizes: the kind, plus the
// word vocabulary or the BPE merges (gpt2's vocabulary ships with the extension). Stored as JSON
// under TOKENIZER_METADATA_KEY in the safetensors __metadata__.
import { EngineError } from '../config';
import type { Tokenizer } from '../types';
import { createBpeTokenizer, parseBpeModel, trainBpeCached, type BpeModel } from './bpe';
import { createGpt2Tokenizer } from './gpt2';
import { createWordTokenizer, createWordTokenizerFromVocab, wordVocabOf } from './word';

export const TOKENIZER_METADATA_KEY = 'llm101.tokenizer';

export type SavedTokenizer = { kind: 'gpt2' } | { kind: 'word'; vocab: string[] } | { kind: 'bpe'; model: BpeModel };

/** A tokenizer learned from `corpus` (gpt2: none needed) with what a checkpoint saves of it. */
export function learnTokenizer(kind: SavedTokenizer['kind'], corpus: string, bpeVocabSize: number): { tokenizer: Tokenizer; saved: SavedTokenizer } {
  if (kind === 'gpt2') return { tokenizer: createGpt2Tokenizer(), saved: { kind } };
  if (kind === 'word') {
    const tokenizer = createWordTokenizer(corpus);
    return { tokenizer, saved: { kind, vocab: wordVocabOf(tokenizer) } };
  }
  const model = trainBpeCached(corpus, bpeVocabSize);
  return { tokenizer: createBpeTokenizer(model), saved: { kind, model } };
}

export function tokenizerFromSaved(saved: SavedTokenizer): Tokenizer {
  if (saved.kind === 'gpt2') return createGpt2Tokenizer();
  if (saved.kind === 'word') return createWordTokenizerFromVocab(saved.vocab);
  return createBpeTokenizer(saved.model);
}

/** Reads TOKENIZER_METADATA_KEY's JSON; `where` names the checkpoint in the message. */
export function parseSavedTokenizer(json: string, where: string): SavedTokenizer {
  const fail = (why: string): never => {
    throw new EngineError(`${where}: its tokenizer (${TOKENIZER_METADATA_KEY}) is unusable: ${why}; set the tokenizer to the one it was trained with`, { setting: 'tokenizer' });
  };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return fail('not JSON');
  }
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const { kind, vocab, model } = value as { kind?: unknown; vocab?: unknown; model?: unknown };
  if (kind === 'gpt2') return { kind };
  if (kind === 'word') {
    if (!Array.isArray(vocab) || !vocab.every((v) => typeof v === 'string')) return fail('its word vocabulary is not a list of strings');
    return { kind, vocab: vocab as string[] };
  }
  if (kind === 'bpe') {
    try {
      return { kind, model: parseBpeModel(model) };
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  return fail(`unknown kind ${JSON.stringify(kind)}`);
}
