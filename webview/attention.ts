// Stages 5–7 as templates: causal attention with dropout, multi-head attention (one map a head,
// each sent on request for long texts), and layer normalisation.
import { html, type TemplateResult } from 'lit';
import type { PanelHead, PanelMap } from '../src/shared/protocol';
import { layerNormChart } from './charts';
import { attentionDescribe, exactOf, valueDescribe } from './describe';
import { fixed } from './notes';
import { stageMaps } from './stages';
import { groupData, type Run } from './state';
import { ATTENTION_AXES, WEIGHT_MEASURE, chart, figure, future, note, pendingSlot, sectionHead, weightColours, weightRangeText } from './view';
import { counted } from '../src/shared/counted';

/** Cells dropout zeroed, for exact maps (coded maps mark them in their codes). */
function droppedTest(weights: PanelMap | undefined, droppedWeights: PanelMap) {
  if (!weights || !('data' in weights) || !('data' in droppedWeights)) return undefined;
  const cols = weights.cols;
  return (r: number, c: number) => c <= r && (weights.data[r * cols + c] ?? 0) > 0 && droppedWeights.data[r * cols + c] === 0;
}

export function causalSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const dk = trace.config.attnDim;
  const p = trace.config.dropout;
  const keep = (1 / (1 - p)).toFixed(3);
  const head = sectionHead('attention-causal', 5, 'Causal attention with dropout',
    `α = softmax(mask(Q·Kᵀ) / √${dk})   α' = dropout(α, p = ${p})   z = α'·V`,
    `A token may only look back: scores above the diagonal are masked (hatched) before softmax. In training, dropout zeroes each weight with probability ${p} (crossed cells, a red dot where a cell is too small for a cross) and scales the rest by 1/(1−p) = ${keep}.`, trace);
  const s = stageMaps(run, 'causal');
  if (!s) return html`${head}${pendingSlot('causal', 'The maps of this stage load when it is shown…')}`;
  const describe = attentionDescribe(labels, exactOf(s.maskedScores, 'causal.maskedScores'), exactOf(s.weights, 'causal.weights'),
    Math.sqrt(dk), exactOf(s.droppedWeights, 'causal.droppedWeights'));
  const colours = weightColours(labels.length, p);
  const shared = { measures: WEIGHT_MEASURE, scale: `one ${weightRangeText(labels.length, p)} scale for both maps and every head` };
  return html`${head}<div class="pair">${figure({
    name: 'causal.weights', title: 'weights before dropout', matrix: s.weights, rowLabels: labels, colLabels: labels,
    ...colours, ...ATTENTION_AXES, describe, masked: future,
  }, shared)}${figure({
    name: 'causal.droppedWeights', title: 'weights after dropout', matrix: s.droppedWeights, rowLabels: labels, colLabels: labels,
    ...colours, ...ATTENTION_AXES, dropped: droppedTest(s.weights, s.droppedWeights), describe, masked: future,
  }, {
    ...shared,
    measures: 'weight after dropout (kept weights × 1/(1−p); rows need not sum to 1)',
    caption: p > 0
      ? `After dropout a row no longer sums to 1: each kept weight is multiplied by 1/(1−p) = ${keep}, so the sum is right on average over many masks, not in each row. Crossed cells (red dots when small) were dropped (set to 0).`
      : 'Dropout is 0: nothing is dropped and the two maps are equal.',
  })}</div>${figure({
    name: 'causal.context', title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: 'dimensions', rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(s.context, 'causal.context'), 'dimension'),
  }, { measures: 'context value (no unit)', scale: 'own scale' })}`;
}

/** Head h's maps: in the trace, or arrived as group `head:h`. */
const headOf = (run: Run, h: number): PanelHead | null | undefined => run.trace.multiHead.heads[h] ?? groupData(run, `head:${h}`);

export function headsSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const m = trace.multiHead;
  const c = trace.config;
  return html`${sectionHead('attention-heads', 6, `Multi-head attention (${counted(c.heads, 'head')})`,
    `head_h = causal attention on ${c.headDim} of the ${c.attnDim} columns, for h = 1, 2, …, ${c.heads}\nout = concat(head_1, …, head_${c.heads})·W_oᵀ + b   (T×${c.attnDim})`,
    'Each head has its own slice of the query, key and value projections and learns its own pattern; their contexts are concatenated and mixed by an output projection.', trace)}
    ${note(`Each map is one head's weights after dropout, rows = queries, columns = keys, all on the causal maps' colour scale (${weightRangeText(labels.length, c.dropout)}), so heads compare directly.`)}
    <div class="heads" id="head-grid">${m.heads.map((_, h) => {
      const head = headOf(run, h);
      return head ? headFigure(run, head, h) : pendingSlot(`head:${h}`, `head ${h + 1}: loads when shown…`);
    })}</div>
    ${headsOutput(run)}`;
}

/** The heads concatenated and projected: in the trace, or arrived as group 'multiHeadOut' (long texts). */
function headsOutput(run: Run): TemplateResult {
  const { trace, labels } = run;
  const c = trace.config;
  const out = trace.multiHead.concat && trace.multiHead.output ? { concat: trace.multiHead.concat, output: trace.multiHead.output } : groupData(run, 'multiHeadOut');
  if (!out) return pendingSlot('multiHeadOut', 'The concatenated heads and the output projection load when shown…');
  return html`<div class="pair">${figure({
      name: 'multiHead.concat', title: 'concatenated head contexts', matrix: out.concat, rowLabels: labels, scale: 'diverging',
      rowAxis: 'tokens', colAxis: `columns (head 1 | … | head ${c.heads})`, rowsAreTokens: true, colsAreTokens: false,
      describe: valueDescribe(labels, exactOf(out.concat, 'multiHead.concat'), 'column'),
    }, { measures: 'context value (no unit)', scale: 'own scale' })}${figure({
      name: 'multiHead.output', title: 'output projection', matrix: out.output, rowLabels: labels, scale: 'diverging',
      rowAxis: 'tokens', colAxis: 'columns (d_out)', rowsAreTokens: true, colsAreTokens: false,
      describe: valueDescribe(labels, exactOf(out.output, 'multiHead.output'), 'column'),
    }, { measures: 'output value (no unit)', scale: 'own scale (not the concat map\'s)' })}</div>`;
}

function headFigure(run: Run, head: PanelHead, h: number): TemplateResult {
  const { trace, labels } = run;
  const c = trace.config;
  return figure({
    name: `multiHead.heads.${h}.droppedWeights`, title: `head ${h + 1}`, matrix: head.droppedWeights, rowLabels: labels, colLabels: labels,
    ...weightColours(labels.length, c.dropout), ...ATTENTION_AXES, dropped: droppedTest(head.weights, head.droppedWeights), masked: future,
    describe: attentionDescribe(labels, exactOf(head.scores, `multiHead.heads.${h}.scores`), exactOf(head.weights, `multiHead.heads.${h}.weights`),
      Math.sqrt(c.headDim), exactOf(head.droppedWeights, `multiHead.heads.${h}.droppedWeights`)),
  }, { measures: 'weight after dropout', scale: 'shared by every head' });
}

/** Rows of the statistics table (a long text's table stops here; the charts and the map show all). */
const TABLE_ROWS = 512;

export function layerNormSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const ln = trace.layerNorm;
  const rows = labels.slice(0, TABLE_ROWS);
  const cell = (v: number | undefined) => html`<td>${v === undefined ? '' : fixed(v)}</td>`;
  return html`${sectionHead('layernorm', 7, 'Layer normalisation',
    'y = scale · (x − μ) / √(σ² + ε) + shift   (ε = 1e-5)\nμ, σ²: mean and variance of each token\'s columns',
    'Each token\'s multi-head output is shifted to mean 0 and scaled to variance 1 (then scale and shift, 1 and 0 before training).', trace)}
    ${note('This page follows the book\'s chapter 3 order: multi-head attention, then layer norm. A GPT block normalises first and adds the input back (the residual, or shortcut): x + MultiHead(LayerNorm(x)). The residual is not drawn here.', 'note residual')}
    <div class="pair" id="layernorm-chart">
      ${chart({ id: 'layernorm-mean', caption: '', size: 'wide', make: (canvas) => layerNormChart(canvas, labels, 'mean', ln.mean, ln.outputMean) })}
      ${chart({ id: 'layernorm-variance', caption: '', size: 'wide', make: (canvas) => layerNormChart(canvas, labels, 'variance', ln.variance, ln.outputVariance) })}
    </div>
    ${figure({
      name: 'layerNorm.output', title: 'normalised output', matrix: ln.output, rowLabels: labels, scale: 'diverging',
      rowAxis: 'tokens', colAxis: 'columns', rowsAreTokens: true, colsAreTokens: false,
      describe: valueDescribe(labels, exactOf(ln.output, 'layerNorm.output'), 'column'),
    }, { measures: 'normalised value (standard deviations from the token\'s mean)', scale: 'own scale' })}
    <div class="table-box"><table id="layernorm-table"><thead><tr><th>#</th><th>token</th><th>mean before</th><th>variance before</th><th>mean after</th><th>variance after</th></tr></thead>
      <tbody>${rows.map((label, i) => html`<tr><td>${i}</td><td>${label}</td>${cell(ln.mean[i])}${cell(ln.variance[i])}${cell(ln.outputMean[i])}${cell(ln.outputVariance[i])}</tr>`)}</tbody></table></div>
    ${note('Variance after is σ² / (σ² + ε), a little under 1 (0.9999… for these sizes), because ε = 1e-5 keeps the division safe. Means after are 0 up to float32 rounding (about 1e-8), shown as 0.00000.', 'note epsilon')}`;
}
