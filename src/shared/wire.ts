// The building blocks of every contract (src/shared/*Protocol.ts): valibot schemas for the values
// that cross a boundary, from which both the TypeScript type and the runtime check come. A message
// is checked once, on receipt, with `parse`; nothing that crosses is trusted by a cast.
//
// Some wire shapes are the engine's own types (a matrix, a token, an analysis request): the engine
// does not import the contracts, so their schemas here are tied to the engine's types by `mirrors`,
// which fails to compile when a field is added to one and not to the other (valibot drops fields a
// schema does not name, so a field missing here would silently vanish on the way).
import * as v from 'valibot';
import { TOKENIZER_KINDS, type Matrix, type Token, type TraceConfig } from '../engine/types';

/** A whole number (a count, an index, a run id). */
export const int = v.pipe(v.number(), v.integer());
/** A whole number from 0: an index, an id. */
export const index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/** A number that is not NaN (±Infinity allowed: a masked score is −∞). */
export const num = v.number();
export const finite = v.pipe(v.number(), v.finite());
/** Text of at most `max` characters (a message, a path, a whole document). */
export const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
/** A loss: a number, or null before there is one. */
export const loss = v.nullable(v.number());

// Typed arrays cross as binary (structured clone); typed as the engine's (any buffer behind them).
export const float32 = v.custom<Float32Array>((x) => x instanceof Float32Array, 'a Float32Array');
export const uint8 = v.custom<Uint8Array>((x) => x instanceof Uint8Array, 'a Uint8Array');

/** Parses `raw` against `schema`: the typed value, or undefined when it does not fit. */
export function parse<S extends v.GenericSchema>(schema: S, raw: unknown): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, raw);
  return result.success ? result.output : undefined;
}

/** Why `raw` does not fit `schema` (the first problem, with its path), for a log line; undefined when it fits. */
export function problem(schema: v.GenericSchema, raw: unknown): string | undefined {
  const result = v.safeParse(schema, raw, { abortEarly: true });
  if (result.success) return undefined;
  const issue = result.issues[0];
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}

// ---- schemas tied to the engine's types ----

/** Object types, not arrays, typed arrays or functions: what `mirrors` compares field by field. */
type Plain<T> = T extends readonly unknown[] | ArrayBufferView | ((...args: never[]) => unknown) ? never : T extends object ? T : never;

/** The dotted paths of fields `A` has and `B` lacks, at any depth of plain objects. */
type OnlyIn<A, B, Prefix extends string = ''> = {
  [K in keyof A & string]-?: K extends keyof B
    ? [Plain<NonNullable<A[K]>>] extends [never]
      ? never
      : OnlyIn<Plain<NonNullable<A[K]>>, Plain<NonNullable<B[K & keyof B]>>, `${Prefix}${K}.`>
    : `${Prefix}${K}`;
}[keyof A & string];

type Agrees<T, Out> = [OnlyIn<T, Out> | OnlyIn<Out, T>] extends [never]
  ? [T] extends [Out] ? unknown : { 'the engine type does not fit the schema': T }
  : { 'fields named by only one of the engine type and the schema': OnlyIn<T, Out> | OnlyIn<Out, T> };

/**
 * `mirrors<T>()(schema)`: the schema, compiled only when its output and the engine's type `T` have
 * the same fields (at every depth) and each fits the other.
 */
export const mirrors = <T>() => <S extends v.GenericSchema<unknown, T>>(schema: S & Agrees<T, v.InferOutput<S>>): S => schema;

/** A row-major float32 matrix whose data holds rows·cols values. */
export const MatrixSchema = mirrors<Matrix>()(v.pipe(
  v.object({ rows: index, cols: index, data: float32 }),
  v.check((m) => m.data.length === m.rows * m.cols, 'a matrix holds rows·cols values'),
));

export const TokenSchema = mirrors<Token>()(v.object({ id: index, text: text(1 << 20), start: index, end: index }));

export const TokenizerKindSchema = v.picklist(TOKENIZER_KINDS);

/** What a trace ran with (block 1 of the model, or the book's chapter 3 example). */
export const TraceConfigSchema = mirrors<TraceConfig>()(v.object({
  stages: v.picklist(['block 1', 'book chapter 3']),
  tokenizer: TokenizerKindSchema,
  vocabSize: index,
  dim: index,
  attnDim: index,
  heads: index,
  headDim: index,
  dropout: num,
  seed: index,
  contextLength: index,
  qkvBias: v.boolean(),
}));
