// Stages 1–4 of the book's chapters 2 and 3 as templates: tokens, embeddings, simple attention
// (beside the book's own example) and self-attention with trainable Q, K, V.
import { html, nothing, type TemplateResult } from 'lit';
import type { JourneyAttention, PanelMap, PanelTrace } from '../src/shared/protocol';
import { pcaChart } from './charts';
import { attentionDescribe, cellsOf, exactOf, valueDescribe } from './describe';
import { hover } from './hover';
import { isSeeded, journeyNote, marksLegend, saturated, saturation, simpleAttentionNote } from './notes';
import { windowStrip } from './windowView';
import { post } from './host';
import { changed, groupData, state, type DataOf, type Run, type TokensRun } from './state';
import { ATTENTION_AXES, SCORE_MEASURE, WEIGHT_MEASURE, chart, figure, note, pendingSlot, sectionHead, toggle, weightColours, weightRangeText } from './view';

export function tokensSection(run: TokensRun): TemplateResult {
  const { trace, labels, hot } = run;
  const c = trace.config;
  const n = trace.tokens.length;
  const marks = marksLegend(labels);
  const share = n ? trace.unknownCount / n : 0;
  return html`${sectionHead('tokens', 1, 'Tokens', `ids = encode(text)   (T = ${n})`,
    `The ${c.tokenizer} tokenizer splits the text into tokens and maps each to its id in a vocabulary of ${c.vocabSize.toLocaleString()}.`)}
    ${windowStrip(trace, run.source, (from) => post({ type: 'moveWindow', from }))}
    <div class="chips">${trace.tokens.map((t, i) => html`<span class="chip c${i % 2} ${i === hot.query || i === hot.key ? 'hot' : ''}" data-index=${i}
      title="token ${i}: id ${t.id}, characters ${t.start}–${t.end}" @mouseenter=${() => hover(i, null, true)} @mouseleave=${() => hover(null, null, true)}>
      <span class="text">${labels[i] ?? ''}</span><span class="id">${t.id}</span></span>`)}</div>
    ${note(`Each chip: the token's text above its id.${marks ? ` In the text, ${marks}.` : ''}`, 'note marks')}
    ${trace.unknownCount > 0 ? html`<p class=${share > 0.2 ? 'hint warn' : 'hint'} id="unk-share">${trace.unknownCount} of ${n} tokens (${(share * 100).toFixed(0)}%) are &lt;|unk|&gt;: words the corpus never had.${
      share > 0.2 ? ' Switch the tokenizer to bpe or gpt2, which never produce unknown tokens.' : ''}</p>` : nothing}`;
}

export function embeddingsSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const d = trace.config.dim;
  const view = state.views.embeddings;
  // a long text's token and position maps come when their toggle is picked (group 'embeddings')
  const sent = run.groups.get('embeddings');
  const m = view === 'input' ? trace.embeddings.input : trace.embeddings[view] ?? (sent?.group === 'embeddings' ? sent.data[view] : null);
  const names = { token: 'token embedding', position: 'positional embedding', input: 'input = token + position' };
  // The positional embedding's rows belong to positions, not to the tokens that sit there.
  const positions = view === 'position';
  const rowLabels = positions ? labels.map((_, i) => `pos ${i}`) : labels;
  // The map and the scatter are read one after the other, each at the full width (labels fit).
  return html`${sectionHead('embeddings', 2, 'Embeddings', `x = tok_emb[ids] + pos_emb[0..T)   (T×${d})`,
    'Each id picks a row of the token embedding; each position adds a row of the positional embedding. Their sum is what attention sees.', trace)}
    ${toggle(['token', 'position', 'input'] as const, view, (v) => { state.views.embeddings = v; changed('embeddings'); })}
    ${m ? figure({
      name: `embeddings.${view}`, title: names[view], matrix: m, rowLabels, scale: 'diverging',
      rowAxis: positions ? 'positions' : 'tokens', colAxis: `dimensions (d_in = ${d})`,
      describe: valueDescribe(rowLabels, exactOf(m, `embeddings.${view}`), 'dimension', positions ? 'position' : 'token'), rowsAreTokens: true, colsAreTokens: false,
    }, { measures: 'embedding value (no unit)', scale: 'own scale' }) : pendingSlot('embeddings', `The ${names[view]} map loads when picked…`)}
    ${chart({ id: 'pca', caption: 'input embeddings, first two principal components', make: (canvas) => pcaChart(canvas, trace, labels) }, note(pcaNote(labels)))}`;
}

/** Why a word shows up twice in the scatter: its two positions add two different rows. */
function pcaNote(labels: string[]): string {
  const first = new Map<string, number>();
  let repeat: [string, number, number] | undefined;
  labels.forEach((l, i) => {
    const at = first.get(l);
    if (at === undefined) first.set(l, i);
    else repeat ??= [l, at, i];
  });
  const example = repeat ? ` Here “${repeat[0]}” at positions ${repeat[1]} and ${repeat[2]} is two points.` : '';
  return `Each point is one token's input embedding. The same word at two positions lands in two places: the token row is the same, but each position adds its own row of the positional embedding.${example}`;
}

type Scores = { scores: PanelMap; weights: PanelMap; context: PanelMap };

/** A stage's maps: in the trace (short texts) or arrived as a group; undefined while on the way. */
export const stageMaps = <K extends 'simple' | 'selfAttention' | 'causal'>(run: Run, key: K): NonNullable<PanelTrace[K]> | DataOf<K> | undefined =>
  run.trace[key] ?? groupData(run, key);

export function simpleSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const head = sectionHead('attention-simple', 3, 'Simple attention (no trainable weights)',
    'ω = x·xᵀ   α = softmax(ω)   z = α·x   (T×T, T×T, T×d)',
    'Every token scores every other token by a dot product of their embeddings; softmax turns each row into weights that sum to 1; the context vector is the weighted sum of embeddings.', trace);
  const s = stageMaps(run, 'simple');
  if (!s) return html`${head}${pendingSlot('simple', 'The maps of this stage load when it is shown…')}`;
  const journey = trace.journey;
  const scores = cellsOf(s.scores);
  const weights = cellsOf(s.weights);
  const stats = saturation(scores.cells, weights.cells);
  const text = simpleAttentionNote(stats, trace.config.dim, isSeeded(trace.weightsSource), scores.approximate || weights.approximate);
  return html`${head}${scoresAndWeights(labels, 'simple', 'simple', 'attention scores ω', 1, s,
    note(text, `note computed${saturated(stats) ? ' warn' : ''}`, 'simple-saturation'), journey && ((showScores) => journeyFigure(journey, showScores)))}
    ${journey ? nothing : note('The book\'s 3-d example, “Your journey starts with one step”, mixes its tokens: run llm101 analyze --example journey to see its numbers.')}`;
}

/** The book's six 3-d tokens through the same stage, beside the user's map. */
function journeyFigure(journey: JourneyAttention, showScores: boolean): TemplateResult {
  const labels = journey.tokens;
  const describe = attentionDescribe(labels, exactOf(journey.scores, ''), exactOf(journey.weights, ''), 1);
  // Its tokens are not the user's: hovering them lights nothing else; not part of the trace: no export.
  return html`${figure({
    name: `journey.${showScores ? 'scores' : 'weights'}`, title: `book example: ${showScores ? 'scores ω' : 'weights'}`, matrix: showScores ? journey.scores : journey.weights,
    rowLabels: labels, colLabels: labels, ...(showScores ? { scale: 'diverging' as const } : weightColours(labels.length)), ...ATTENTION_AXES,
    rowsAreTokens: false, colsAreTokens: false, describe,
  }, showScores ? { measures: SCORE_MEASURE, scale: 'own scale', caption: journeyNote(saturation(cellsOf(journey.scores).cells, cellsOf(journey.weights).cells)) }
    : { measures: WEIGHT_MEASURE, scale: `fixed ${weightRangeText(labels.length)}`, caption: journeyNote(saturation(cellsOf(journey.scores).cells, cellsOf(journey.weights).cells)) },
  { id: 'journey', exports: 'none' })}`;
}

export function selfSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const dk = trace.config.attnDim;
  const head = sectionHead('attention-self', 4, 'Self-attention with trainable Q, K, V',
    `Q = x·W_qᵀ  K = x·W_kᵀ  V = x·W_vᵀ   α = softmax(Q·Kᵀ / √${dk})   z = α·V   (T×${dk})`,
    'Trainable matrices turn each embedding into a query, a key and a value. Scores are scaled by √d_k so softmax does not saturate.', trace);
  const s = stageMaps(run, 'selfAttention');
  return s
    ? html`${head}${scoresAndWeights(labels, 'selfAttention', 'self', 'scores Q·Kᵀ', Math.sqrt(dk), s)}`
    : html`${head}${pendingSlot('selfAttention', 'The maps of this stage load when it is shown…')}`;
}

/** The body shared by the two non-causal stages: a scores/weights toggle, the map (and its companion), the context. */
function scoresAndWeights(
  labels: string[], stage: 'simple' | 'selfAttention', view: 'self' | 'simple', scoreTitle: string, scale: number,
  s: Scores, after: unknown = nothing, companion?: (showScores: boolean) => TemplateResult,
): TemplateResult {
  const section = stage === 'simple' ? 'attention-simple' : 'attention-self';
  const showScores = state.views[view] === 'scores';
  const main = figure({
    name: `${stage}.${state.views[view]}`, title: showScores ? scoreTitle : 'attention weights', matrix: showScores ? s.scores : s.weights,
    rowLabels: labels, colLabels: labels, ...(showScores ? { scale: 'diverging' as const } : weightColours(labels.length)), ...ATTENTION_AXES,
    describe: attentionDescribe(labels, exactOf(s.scores, `${stage}.scores`), exactOf(s.weights, `${stage}.weights`), scale),
  }, showScores ? { measures: SCORE_MEASURE, scale: 'own scale' } : { measures: WEIGHT_MEASURE, scale: `fixed ${weightRangeText(labels.length)}` });
  return html`${toggle(['scores', 'weights'] as const, state.views[view], (v) => { state.views[view] = v; changed(section); })}${after}
    ${companion ? html`<div class="pair">${main}${companion(showScores)}</div>` : main}
    ${figure({
      name: `${stage}.context`, title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
      rowAxis: 'tokens', colAxis: 'dimensions', rowsAreTokens: true, colsAreTokens: false,
      describe: valueDescribe(labels, exactOf(s.context, `${stage}.context`), 'dimension'),
    }, { measures: 'context value (no unit)', scale: 'own scale' })}`;
}
