// GPT-2's own tokenizer (50,257 tokens: 256 bytes, 50,000 merges, <|endoftext|> = 50256), from
// js-tiktoken with its offline rank table. The ranks are ~0.5 MB of source and take a moment to
// unpack, so they are loaded the first time a GPT-2 tokenizer is asked for, not at import.
import { Tiktoken } from 'js-tiktoken/lite';
import type { TiktokenBPE } from 'js-tiktoken/lite';
import { EngineError } from '../config';
import type { Token, Tokenizer } from '../types';
import { bytesForDisplay, charSpan, textToByteMap } from './bytes';

export const GPT2_END_OF_TEXT = '<|endoftext|>';
export const GPT2_END_OF_TEXT_ID = 50_256;
export const GPT2_VOCAB_SIZE = 50_257;

interface Gpt2Tables {
  readonly encoder: Tiktoken;
  /** Bytes of every ordinary token, by id; the special token is handled apart. */
  readonly tokenBytes: readonly Uint8Array[];
}

let tables: Gpt2Tables | undefined;

function loadTables(): Gpt2Tables {
  if (tables !== undefined) return tables;
  // A plain require inside the function: esbuild still bundles the file, but evaluates it only
  // here, and tsx/Node load it on demand as well.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ranks = require('js-tiktoken/ranks/gpt2') as TiktokenBPE;
  const encoder = new Tiktoken(ranks);
  // The rank file lists tokens as base64 byte strings, grouped in lines "<label> <first id> <b64>...".
  const tokenBytes: Uint8Array[] = [];
  for (const line of ranks.bpe_ranks.split('\n')) {
    const [, firstId, ...encoded] = line.split(' ');
    if (firstId === undefined) continue;
    const offset = Number.parseInt(firstId, 10);
    encoded.forEach((b64, i) => {
      tokenBytes[offset + i] = Buffer.from(b64, 'base64'); // a Buffer is a Uint8Array
    });
  }
  if (tokenBytes.length !== GPT2_END_OF_TEXT_ID || tokenBytes.some((bytes) => bytes === undefined)) {
    throw new EngineError(
      `the GPT-2 rank table has ${tokenBytes.length} tokens, expected ${GPT2_END_OF_TEXT_ID}: reinstall js-tiktoken (pinned in package.json)`,
    );
  }
  tables = { encoder, tokenBytes };
  return tables;
}

const END_OF_TEXT_BYTES = new TextEncoder().encode(GPT2_END_OF_TEXT);

class Gpt2Tokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly vocabSize = GPT2_VOCAB_SIZE;
  private readonly tables = loadTables();

  /**
   * js-tiktoken gives the ids; the offsets come from walking the ids' bytes along the text's
   * bytes (a token spans the characters its bytes touch; see `charSpan`).
   */
  encode(text: string): Token[] {
    const ids = this.tables.encoder.encode(text, [GPT2_END_OF_TEXT]);
    const map = textToByteMap(text);
    const tokens: Token[] = [];
    let byte = 0;
    for (const id of ids) {
      const byteEnd = byte + this.bytesOf(id).length;
      const { start, end } = charSpan(map, byte, byteEnd);
      tokens.push({ id, text: text.slice(start, end), start, end });
      byte = byteEnd;
    }
    if (byte !== map.bytes.length) {
      // Only possible if js-tiktoken encoded the text to other bytes than UTF-8.
      throw new EngineError(`GPT-2 tokens cover ${byte} of ${map.bytes.length} bytes of the text: please report this with the text`);
    }
    return tokens;
  }

  /** Text of the ids; bytes that do not form whole characters become U+FFFD. */
  decode(ids: readonly number[]): string {
    for (const id of ids) this.bytesOf(id); // validates every id with a clear message
    return this.tables.encoder.decode([...ids]);
  }

  idToToken(id: number): string {
    return id === GPT2_END_OF_TEXT_ID ? GPT2_END_OF_TEXT : bytesForDisplay(this.bytesOf(id));
  }

  private bytesOf(id: number): Uint8Array {
    if (id === GPT2_END_OF_TEXT_ID) return END_OF_TEXT_BYTES;
    const bytes = Number.isInteger(id) ? this.tables.tokenBytes[id] : undefined;
    if (bytes === undefined) {
      throw new EngineError(`token id ${id} is not in GPT-2's vocabulary: ids run from 0 to ${GPT2_VOCAB_SIZE - 1}`);
    }
    return bytes;
  }
}

/** GPT-2's tokenizer; the first call loads the rank table (about a tenth of a second). */
export function createGpt2Tokenizer(): Tokenizer {
  return new Gpt2Tokenizer();
}
