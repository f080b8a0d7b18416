// From the experiments (src/engine/experiments/) on a kept model run to what the panel's sections
// draw: token texts beside ids, the lens of a long text cut to its last positions, each head's
// strongest role. The run's cache (the residual stream, every z, attn_out and mlp_out) is computed
// once per kept run, on the first experiment asked of it; the attention maps are not kept (144
// (T, T) maps at T = 1,024 would be 600 MB): head roles recompute them.
import { CancelledError, EngineError, type CancelSignal } from '../engine/config';
import { ablate, scanHeads, type AblationMode, type HeadRef } from '../engine/experiments/ablation';
import { attribute } from '../engine/experiments/attribution';
import { HEAD_ROLES, headScores, inductionProbe, type HeadRole } from '../engine/experiments/headScores';
import { logitLens } from '../engine/experiments/lens';
import { activationPatching } from '../engine/experiments/patching';
import { oneTokenId, runWithCache, type RunCache } from '../engine/experiments/run';
import { argmax } from '../engine/gpt/sampling';
import type { Tokenizer } from '../engine/types';
import { ROLE_THRESHOLD, type AblationView, type AttributionView, type ExperimentQuery, type ExperimentResult, type HeadRolesView, type LensView, type PatchingView } from '../shared/experimentsProtocol';
import type { ModelRun } from './modelView';

/** The lens of a longer text shows its last this many positions (13 × 32 cells of text for GPT-2). */
export const LENS_POSITIONS = 32;
/** The induction probe: this many random ids, then the same again. */
export const PROBE_LENGTH = 20;
const PROBE_SEED = 123;

/** What the panel's model run keeps for the experiments: its ids and, once asked, its cache. */
const caches = new WeakMap<ModelRun, RunCache>();

/**
 * The run's cache keeps every position's logits (ablation compares the loss over the whole text):
 * T · vocab floats, at most this many (256 MB: GPT-2 at 1,335 tokens).
 */
export const MAX_CACHED_LOGITS = 64 * 2 ** 20;

/** An EngineError with the fix when a text is too long for the run's cache. */
export function checkCacheSize(tokens: number, vocabSize: number, budget = MAX_CACHED_LOGITS): void {
  if (tokens * vocabSize <= budget) return;
  throw new EngineError(
    `ablation and attribution keep the logits of every position: ${tokens.toLocaleString('en-US')} tokens × ${vocabSize.toLocaleString('en-US')} would take ` +
      `${Math.round((tokens * vocabSize * 4) / 2 ** 20).toLocaleString('en-US')} MB; select at most ${Math.floor(budget / vocabSize).toLocaleString('en-US')} tokens`,
  );
}

/** The kept run's cache (computed on the first call for a run). */
function cacheOf(run: ModelRun): RunCache {
  let cache = caches.get(run);
  if (!cache) {
    checkCacheSize(run.ids.length, run.model.config.vocabSize);
    cache = runWithCache(run.model, run.ids, { z: true, outputs: true });
    caches.set(run, cache);
  }
  return cache;
}

const textOf = (tokenizer: Tokenizer, id: number) => tokenizer.decode([id]);
const bars = (tokenizer: Tokenizer, cells: readonly { id: number; p: number }[]) => cells.map(({ id, p }) => ({ id, text: textOf(tokenizer, id), p }));

export function lensView(run: ModelRun): LensView {
  const T = run.ids.length;
  const from = Math.max(0, T - LENS_POSITIONS);
  // a text too long for the full cache reads the stream alone: the lens needs its last positions only
  const long = T * run.model.config.vocabSize > MAX_CACHED_LOGITS;
  const lens = logitLens(run.model, long ? runWithCache(run.model, run.ids, {}, { logits: 'none' }) : cacheOf(run), { from });
  const positions = Array.from({ length: T - from }, (_, i) => from + i);
  return {
    positions,
    tokens: positions.map((t) => textOf(run.tokenizer, run.ids[t]!)),
    readings: lens.top.map((_, l) => (l === 0 ? 'embeddings' : `after block ${l}`)),
    top: lens.top.map((row) => row.map((cell) => bars(run.tokenizer, cell))),
    final: lens.final,
  };
}

export function headRolesView(run: ModelRun): HeadRolesView {
  const probeLength = Math.min(PROBE_LENGTH, Math.floor(run.model.config.contextLength / 2));
  const text = runWithCache(run.model, run.ids, { patterns: true }, { logits: 'none' });
  const scores = headScores(run.model, text, inductionProbe(probeLength, PROBE_SEED, run.model.config.vocabSize));
  const strongest = scores.map((row) =>
    row.map((score) => {
      let best: HeadRole | null = null;
      for (const role of HEAD_ROLES) {
        const value = score[role];
        if (value !== null && value >= ROLE_THRESHOLD && (best === null || value > score[best]!)) best = role;
      }
      return best;
    }),
  );
  return { scores, strongest, threshold: ROLE_THRESHOLD, probeLength, probeSeed: PROBE_SEED };
}

export function ablationView(run: ModelRun, heads: readonly HeadRef[], mode: AblationMode, position: number): AblationView {
  const result = ablate(run.model, cacheOf(run), heads, mode, position);
  return { ...result, heads: [...heads], mode, before: bars(run.tokenizer, result.before), after: bars(run.tokenizer, result.after) };
}

/** [L][H] loss increase per head alone; progress after each head; stops with CancelledError. */
export function scanView(run: ModelRun, mode: AblationMode, signal: CancelSignal, onProgress: (done: number, total: number) => void): number[][] {
  if (run.ids.length < 2) throw new EngineError('scanning heads compares the text\'s loss, which needs at least 2 tokens; select more text');
  return scanHeads(run.model, cacheOf(run), mode, { signal, onProgress });
}

/** The attribution of `id` (default: the predicted next token) at `position`. */
export function attributionView(run: ModelRun, position: number, id?: number): AttributionView {
  const cache = cacheOf(run);
  const { vocabSize } = run.model.config;
  const token = id ?? argmax(cache.logits.data.subarray(position * vocabSize, (position + 1) * vocabSize));
  const parts = attribute(run.model, cache, position, token);
  const sum = parts.embed + parts.finalNormBias + parts.heads.flat().reduce((a, b) => a + b, 0) + parts.attnBias.reduce((a, b) => a + b, 0) + parts.mlps.reduce((a, b) => a + b, 0);
  return { ...parts, text: textOf(run.tokenizer, token), sum };
}

export function patchingView(run: ModelRun, corruptText: string, answerText: string, wrongText: string, signal: CancelSignal, onProgress: (done: number, total: number) => void): PatchingView {
  const { tokenizer } = run;
  const corruptIds = tokenizer.encode(corruptText).map((t) => t.id);
  const answer = oneTokenId(tokenizer, answerText, 'the answer');
  const wrong = oneTokenId(tokenizer, wrongText, 'the wrong token');
  if (signal.aborted) throw new CancelledError();
  const result = activationPatching(run.model, run.ids, corruptIds, answer, wrong, { signal, onProgress });
  return {
    tokens: run.ids.map((id) => textOf(tokenizer, id)),
    corruptTokens: corruptIds.map((id) => textOf(tokenizer, id)),
    answer: { id: answer, text: textOf(tokenizer, answer) },
    wrong: { id: wrong, text: textOf(tokenizer, wrong) },
    ...result,
  };
}

/** One query of the panel on a kept run; scan and patch report progress and stop when cancelled. */
export function runExperiment(run: ModelRun, query: ExperimentQuery, signal: CancelSignal, onProgress: (done: number, total: number) => void): ExperimentResult {
  switch (query.kind) {
    case 'lens':
      return { kind: 'lens', view: lensView(run) };
    case 'headRoles':
      return { kind: 'headRoles', view: headRolesView(run) };
    case 'ablate':
      return { kind: 'ablate', view: ablationView(run, query.heads, query.mode, query.position) };
    case 'scan':
      return { kind: 'scan', mode: query.mode, grid: scanView(run, query.mode, signal, onProgress) };
    case 'attribute': {
      const id = query.token === undefined || query.token === '' ? undefined : oneTokenId(run.tokenizer, query.token, 'the token');
      return { kind: 'attribute', view: attributionView(run, query.position, id) };
    }
    case 'patch':
      return { kind: 'patch', view: patchingView(run, query.corrupt, query.answer, query.wrong, signal, onProgress) };
  }
}
