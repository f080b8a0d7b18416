// The experiments' part of the contracts (logit lens, head roles, ablation, scan, attribution,
// patching): what the panel asks of a kept model run and what comes back, as valibot schemas from
// which both the types and the checks on receipt come. The engine process computes
// (src/worker/experimentsView.ts); the host relays; the webview draws.
import * as v from 'valibot';
import { index, num, text } from './wire';

export { parse } from './wire';

const shortText = text(10_000);

/** A head's strongest role counts when its score is at least this (the blocks grid's badges, the training timelapse). */
export const ROLE_THRESHOLD = 0.3;

export const AblationModeSchema = v.picklist(['zero', 'mean']);
export const HeadRefSchema = v.object({ layer: index, head: index });

/** One experiment on the kept run of trace `traceId`; heads and layers from 0. */
export const ExperimentQuerySchema = v.variant('kind', [
  v.object({ kind: v.literal('lens') }),
  v.object({ kind: v.literal('headRoles') }),
  v.object({ kind: v.literal('ablate'), heads: v.pipe(v.array(HeadRefSchema), v.minLength(1), v.maxLength(4096)), mode: AblationModeSchema, position: index }),
  v.object({ kind: v.literal('scan'), mode: AblationModeSchema }),
  v.object({ kind: v.literal('attribute'), position: index, token: v.optional(shortText) }),
  v.object({ kind: v.literal('patch'), corrupt: v.pipe(v.string(), v.maxLength(1 << 20)), answer: shortText, wrong: shortText }),
]);
export type ExperimentQuery = v.InferOutput<typeof ExperimentQuerySchema>;

const TokenBarSchema = v.object({ id: index, text: shortText, p: num });
const TokenSchema = v.object({ id: index, text: shortText });
const grid = v.array(v.array(num));
const HeadRoleSchema = v.picklist(['previousToken', 'firstToken', 'selfToken', 'induction']);

export const LensViewSchema = v.object({
  positions: v.array(index),
  tokens: v.array(shortText),
  readings: v.array(shortText),
  top: v.array(v.array(v.array(TokenBarSchema))),
  final: grid,
});
export const HeadRolesViewSchema = v.object({
  scores: v.array(v.array(v.object({ previousToken: v.nullable(num), firstToken: v.nullable(num), selfToken: num, induction: num }))),
  strongest: v.array(v.array(v.nullable(HeadRoleSchema))),
  threshold: num,
  /** The induction probe: probeLength random token ids drawn with probeSeed, then the same again. */
  probeLength: index,
  probeSeed: index,
});
export const AblationViewSchema = v.object({
  heads: v.array(HeadRefSchema),
  mode: AblationModeSchema,
  position: index,
  before: v.array(TokenBarSchema),
  after: v.array(TokenBarSchema),
  kl: num,
  lossBefore: v.nullable(num),
  lossAfter: v.nullable(num),
});
export const AttributionViewSchema = v.object({
  position: index,
  id: index,
  text: shortText,
  logit: num,
  embed: num,
  heads: grid,
  attnBias: v.array(num),
  mlps: v.array(num),
  finalNormBias: num,
  sum: num,
});
export const PatchingViewSchema = v.object({
  tokens: v.array(shortText),
  corruptTokens: v.array(shortText),
  answer: TokenSchema,
  wrong: TokenSchema,
  clean: num,
  corrupt: num,
  grid,
});

/** What each query kind answers. */
export const ExperimentResultSchema = v.variant('kind', [
  v.object({ kind: v.literal('lens'), view: LensViewSchema }),
  v.object({ kind: v.literal('headRoles'), view: HeadRolesViewSchema }),
  v.object({ kind: v.literal('ablate'), view: AblationViewSchema }),
  v.object({ kind: v.literal('scan'), mode: AblationModeSchema, grid }),
  v.object({ kind: v.literal('attribute'), view: AttributionViewSchema }),
  v.object({ kind: v.literal('patch'), view: PatchingViewSchema }),
]);
export type ExperimentResult = v.InferOutput<typeof ExperimentResultSchema>;
export type LensView = v.InferOutput<typeof LensViewSchema>;
export type HeadRolesView = v.InferOutput<typeof HeadRolesViewSchema>;
export type AblationView = v.InferOutput<typeof AblationViewSchema>;
export type AttributionView = v.InferOutput<typeof AttributionViewSchema>;
export type PatchingView = v.InferOutput<typeof PatchingViewSchema>;

/** Progress of a scan or patching as the engine's 'progress' reply carries it: "done/total". */
export const progressStage = (done: number, total: number) => `${done}/${total}`;
export function parseProgressStage(stage: string): { done: number; total: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(stage);
  return match ? { done: Number(match[1]), total: Number(match[2]) } : undefined;
}
