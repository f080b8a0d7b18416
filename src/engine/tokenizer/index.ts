// One entry point for the three tokenizers; the engine, the worker and the CLI go through here.
import { EngineError, TOKENIZER_KINDS, type CancelSignal } from '../config';
import type { Tokenizer, TokenizerKind } from '../types';
import { BPE_DEFAULT_VOCAB, createBpeTokenizer, trainBpeCached } from './bpe';
import { createGpt2Tokenizer } from './gpt2';
import { createWordTokenizer } from './word';

export interface CreateTokenizerOptions {
  kind: TokenizerKind;
  /** Corpus text (see loadCorpus): the vocabulary of `word`, the training text of `bpe`. */
  corpus?: string;
  /** `bpe` only: 256..65536, default 512. */
  vocabSize?: number;
  /** `bpe` only: cancels training (throws CancelledError). */
  signal?: CancelSignal;
  /** `bpe` only: training progress in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

/**
 * The tokenizer of the given kind. `word` and `bpe` learn from `corpus`; `gpt2` has its own fixed
 * vocabulary and ignores it. A bpe model is trained once per corpus and size, then cached.
 */
export function createTokenizer(options: CreateTokenizerOptions): Tokenizer {
  const kind: unknown = options.kind;
  switch (kind) {
    case 'word':
      return createWordTokenizer(requireCorpus(options.corpus, 'word'));
    case 'bpe': {
      const model = trainBpeCached(requireCorpus(options.corpus, 'bpe'), options.vocabSize ?? BPE_DEFAULT_VOCAB, {
        signal: options.signal,
        onProgress: options.onProgress,
      });
      return createBpeTokenizer(model);
    }
    case 'gpt2':
      return createGpt2Tokenizer();
    default:
      throw new EngineError(`unknown tokenizer ${JSON.stringify(kind)}; use one of ${TOKENIZER_KINDS.join(', ')}`);
  }
}

function requireCorpus(corpus: string | undefined, kind: TokenizerKind): string {
  if (corpus === undefined || corpus.trim() === '') {
    throw new EngineError(
      `the ${kind} tokenizer learns its vocabulary from a corpus, and the corpus is ${corpus === undefined ? 'missing' : 'empty'}: ` +
        'load one with loadCorpus (an empty corpus path means the bundled poems), or use the gpt2 tokenizer',
      { setting: 'corpusPath' },
    );
  }
  return corpus;
}

export type { BpeModel, TrainBpeOptions } from './bpe';
export {
  BPE_DEFAULT_VOCAB,
  BPE_MAX_VOCAB,
  BPE_MIN_VOCAB,
  bpeCacheKey,
  cacheBpeModel,
  checkBpeVocabSize,
  clearBpeCache,
  createBpeTokenizer,
  getCachedBpeModel,
  parseBpeModel,
  trainBpe,
  trainBpeCached,
} from './bpe';
export { GPT2_END_OF_TEXT, GPT2_END_OF_TEXT_ID, GPT2_VOCAB_SIZE, createGpt2Tokenizer } from './gpt2';
export { END_OF_TEXT, UNKNOWN, buildWordVocab, createWordTokenizer, splitWords } from './word';
export { createWordTokenizerFromVocab, wordVocabOf } from './word';
export { TOKENIZER_METADATA_KEY, learnTokenizer, parseSavedTokenizer, tokenizerFromSaved, type SavedTokenizer } from './saved';
