// The word tokenizer of Raschka, "Build a Large Language Model (From Scratch)", chapter 2
// (SimpleTokenizerV2): split on punctuation, "--" and whitespace, keep the punctuation, drop the
// whitespace; the vocabulary is every distinct piece of the corpus in sorted order followed by
// <|endoftext|> and <|unk|>; a piece missing from the vocabulary becomes <|unk|>.
import { EngineError } from '../config';
import type { Token, Tokenizer } from '../types';

export const END_OF_TEXT = '<|endoftext|>';
export const UNKNOWN = '<|unk|>';

/** The book's `re.split(r'([,.:;?_!"()\']|--|\s)', text)`: the capture group keeps the delimiter. */
const DELIMITER = /([,.:;?_!"()']|--|\s)/g;
const WHITESPACE = /^\s$/;
/** Spaces that decode removes again: the book's `re.sub(r'\s+([,.:;?!"()\'])', r'\1', text)`. */
const SPACE_BEFORE_PUNCTUATION = /\s+([,.:;?!"()'])/g;

/** One piece of the input with its offsets: `text === input.slice(start, end)`. */
export interface WordPiece {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** True for an `<|endoftext|>` written in the text. */
  readonly special: boolean;
}

/**
 * The book's preprocessing with offsets. The book strips every piece and drops the empty ones;
 * because whitespace is itself a delimiter, a piece between delimiters never holds whitespace, so
 * stripping only ever empties the whitespace delimiters, which are dropped here directly.
 * One addition: `<|endoftext|>` is cut out first, so it is the special token even when it touches
 * a word (the book only writes it between spaces, where both rules agree).
 */
export function splitWords(text: string): WordPiece[] {
  const pieces: WordPiece[] = [];
  let segmentStart = 0;
  for (;;) {
    const special = text.indexOf(END_OF_TEXT, segmentStart);
    const segmentEnd = special === -1 ? text.length : special;
    splitSegment(text, segmentStart, segmentEnd, pieces);
    if (special === -1) break;
    pieces.push({ text: END_OF_TEXT, start: special, end: special + END_OF_TEXT.length, special: true });
    segmentStart = special + END_OF_TEXT.length;
  }
  return pieces;
}

function splitSegment(text: string, from: number, to: number, pieces: WordPiece[]): void {
  const segment = text.slice(from, to);
  const pushPiece = (start: number, end: number): void => {
    if (end > start) pieces.push({ text: segment.slice(start, end), start: from + start, end: from + end, special: false });
  };
  DELIMITER.lastIndex = 0;
  let wordStart = 0;
  for (let match = DELIMITER.exec(segment); match !== null; match = DELIMITER.exec(segment)) {
    pushPiece(wordStart, match.index);
    const delimiter = match[0];
    if (!WHITESPACE.test(delimiter)) pushPiece(match.index, match.index + delimiter.length);
    wordStart = match.index + delimiter.length;
  }
  pushPiece(wordStart, segment.length);
}

/** Python's sorted() order for strings: by code point (JS's default sort compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) ?? 0;
    const cb = b.codePointAt(j) ?? 0;
    if (ca !== cb) return ca - cb;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/** The vocabulary built from a corpus: sorted distinct pieces, then <|endoftext|>, <|unk|>. */
export function buildWordVocab(corpus: string): string[] {
  const distinct = new Set<string>();
  for (const piece of splitWords(corpus)) {
    // The specials get their fixed places at the end, even if the corpus spells them out.
    if (!piece.special && piece.text !== UNKNOWN) distinct.add(piece.text);
  }
  if (distinct.size === 0) {
    throw new EngineError(
      'the corpus has no words, so the word tokenizer has no vocabulary: use a corpus with some text in it',
      { setting: 'corpusPath' },
    );
  }
  return [...[...distinct].sort(compareCodePoints), END_OF_TEXT, UNKNOWN];
}

class WordTokenizer implements Tokenizer {
  readonly kind = 'word' as const;
  readonly vocabSize: number;
  private readonly idOf: Map<string, number>;
  private readonly unknownId: number;
  private readonly endOfTextId: number;

  constructor(private readonly vocab: readonly string[]) {
    this.vocabSize = vocab.length;
    this.idOf = new Map(vocab.map((entry, id) => [entry, id]));
    this.unknownId = this.requireId(UNKNOWN);
    this.endOfTextId = this.requireId(END_OF_TEXT);
  }

  private requireId(entry: string): number {
    const id = this.idOf.get(entry);
    if (id === undefined) throw new EngineError(`the word vocabulary lacks ${entry}: build it with buildWordVocab`);
    return id;
  }

  encode(text: string): Token[] {
    return splitWords(text).map((piece) => ({
      id: piece.special ? this.endOfTextId : (this.idOf.get(piece.text) ?? this.unknownId),
      text: piece.text,
      start: piece.start,
      end: piece.end,
    }));
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => this.idToToken(id)).join(' ').replace(SPACE_BEFORE_PUNCTUATION, '$1');
  }

  idToToken(id: number): string {
    const entry = Number.isInteger(id) ? this.vocab[id] : undefined;
    if (entry === undefined) {
      throw new EngineError(`token id ${id} is not in the word vocabulary: ids run from 0 to ${this.vocabSize - 1}`);
    }
    return entry;
  }
}

/** The word tokenizer whose vocabulary is the corpus's words (see `buildWordVocab`). */
export function createWordTokenizer(corpus: string): Tokenizer {
  return new WordTokenizer(buildWordVocab(corpus));
}

/**
 * The word tokenizer of a vocabulary built before (a checkpoint's): ids are positions in `vocab`,
 * which must hold <|endoftext|> and <|unk|> and no entry twice.
 */
export function createWordTokenizerFromVocab(vocab: readonly string[]): Tokenizer {
  if (new Set(vocab).size !== vocab.length) throw new EngineError('the word vocabulary has an entry twice: it was not built by buildWordVocab');
  return new WordTokenizer([...vocab]);
}

/** The vocabulary of a word tokenizer made here, by id (for a checkpoint to carry). */
export function wordVocabOf(tokenizer: Tokenizer): string[] {
  if (tokenizer.kind !== 'word') throw new EngineError(`a ${tokenizer.kind} tokenizer has no word vocabulary`);
  return Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id));
}
