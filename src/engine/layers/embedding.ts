// Stage 2, embeddings: each token id picks a row of the token table, each position a row of the
// position table, and the model's input is their sum.
//   input[t] = tokEmb[id_t] + posEmb[t]

import { add, takeRows } from '../tensor';
import type { Matrix, Trace } from '../types';

/** Row id_t of the token table for every token. (vocabSize, dim) -> (T, dim) */
export function tokenEmbeddings(tokEmb: Matrix, ids: readonly number[]): Matrix {
  return takeRows(tokEmb, ids);
}

/** Rows 0 .. T−1 of the position table. (contextLength, dim) -> (T, dim) */
export function positionEmbeddings(posEmb: Matrix, tokenCount: number): Matrix {
  return takeRows(posEmb, Array.from({ length: tokenCount }, (_, t) => t));
}

export function embeddings(ids: readonly number[], tokEmb: Matrix, posEmb: Matrix): Trace['embeddings'] {
  const token = tokenEmbeddings(tokEmb, ids); // (T, dim)
  const position = positionEmbeddings(posEmb, ids.length); // (T, dim)
  const input = add(token, position); // (T, dim)
  return { token, position, input };
}
