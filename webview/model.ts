// The model's sections (book chapter 4) after the seven stages: feed-forward and shortcuts, and
// the transformer blocks (every layer × head map as a thumbnail, one opened large). They draw
// PanelTrace.model at once and the 'blocks' and `block:L` groups as they arrive; the next token
// and Generate are in webview/nextToken.ts.
import { html, nothing, type TemplateResult } from 'lit';
import { ref } from 'lit/directives/ref.js';
import { CODE_MASKED, MAP_LEVELS, codeAt, levelValue, type MapCodes } from '../src/shared/codes';
import type { PanelBlockThumbs, PanelMap, PanelModel, PanelTrace } from '../src/shared/protocol';
import { showReading, type CellReading } from './cells';
import { colorOf } from './colors';
import { formatCell, type HeatmapSpec } from './heatmap';
import { clickHead, headTools, thumbExtras } from './headRoles';
import { isReport, post } from './host';
import { colorLegend } from './legend';
import { geluChart, residualChart, showResidualToken } from './modelCharts';
import { hiddenShareNote, modelWeightsNote } from './modelNotes';
import { isSeeded } from './notes';
import { changed, groupData, state, type Run } from './state';
import { WEIGHT_MEASURE, chart, figure, note, pendingSlot, sectionHead, weightColours, weightRangeText } from './view';
import { counted } from '../src/shared/counted';

/** Where the numbers come from, or why there are none: under the heading of every model section. */
export function modelHeader(trace: PanelTrace): { model: PanelModel | undefined; header: TemplateResult } {
  const model = trace.model;
  if (!model) {
    return { model, header: html`<div class="section-error model-error" role="alert">The model could not run on this text: ${trace.modelError ?? 'no model in this trace'}</div>` };
  }
  return { model, header: html`<p class="weights-note"><i class="codicon codicon-${isSeeded(model.source) ? 'beaker' : 'file-binary'}"></i> ${modelWeightsNote(model.source, trace.trained, model.config.vocabSize)}</p>` };
}

/** The model's sizes, or the stages' while no model ran. */
export const sizes = (trace: PanelTrace) => trace.model?.config ?? { dim: trace.config.dim, heads: trace.config.heads, layers: 0, vocabSize: trace.config.vocabSize };

// ---------- feed-forward and shortcuts ----------
export function feedForwardSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const { dim } = sizes(trace);
  const head = sectionHead('feed-forward', 8, 'Feed-forward and shortcuts',
    `FF(x) = GELU(x·W₁ᵀ + b₁)·W₂ᵀ + b₂   (${dim} → 4·dim = ${4 * dim} → ${dim})\n` +
      'GELU(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))\n' +
      'block: x ← x + MultiHead(LN₁(x)),  then x ← x + FF(LN₂(x))',
    'After attention mixes the tokens, each token passes on its own through a small network: widened to four times its size, bent by GELU (a smooth ReLU), narrowed back. ' +
      'Shortcut (residual) connections add each part\'s output to its input, so the input flows on unchanged and every part adds a correction to it.');
  const { model, header } = modelHeader(trace);
  if (!model) return html`${head}${header}`;
  const ff = model.feedForward;
  const hidden = ff.hidden;
  const T = labels.length;
  const norms = model.residualNorms;
  return html`${head}${header}
    ${chart({ id: 'gelu-chart', caption: `GELU and layer ${ff.layer + 1}'s actual pre-activations`, size: 'wide', make: (canvas) => geluChart(canvas, ff.preActivations, ff.layer) })}
    ${note(`Each dot is one value x·W₁ᵀ + b₁ of layer ${ff.layer + 1} (${sampled(ff.preActivations.length, T * 4 * dim)}), drawn at GELU(x): what the hidden layer passes on. ` +
      'Below about −3 GELU gives 0, above about 3 it gives x; in between it bends.')}
    ${figure({
      name: 'model.feedForward.hidden', title: `hidden activations, layer ${ff.layer + 1} (after GELU)`, matrix: hidden, rowLabels: labels, scale: 'diverging',
      rowAxis: 'tokens', colAxis: `hidden units (4·dim = ${4 * dim})`, rowsAreTokens: true, colsAreTokens: false, minRowHeight: 14,
      describe: valueLines(labels, readingOf(hidden), 'hidden unit', 'GELU output'), ...codedExact(hidden),
    }, { measures: 'GELU output (no unit; at least −0.17)', scale: 'own scale' })}
    ${note(hiddenShareNote(ff.hiddenShare, ff.layer), 'note computed')}
    ${chart({
      id: 'residual-chart', caption: 'size of the residual stream before and after each shortcut', size: 'wide',
      make: (canvas) => residualChart(canvas, norms, run.position, labels[run.position] ?? ''),
      data: run.position, update: (c, position: number) => showResidualToken(c, norms, position, labels[position] ?? ''),
    }, note('Each point is the L2 norm ‖x‖ of a token\'s residual vector: entering layer 1 (the embeddings), after attention\'s shortcut adds its output, after the feed-forward\'s adds its own. ' +
      'The dashed line follows the selected token (hover a token anywhere to pick it).'))}`;
}

/** "all 896 of them" or "a sample of 4,096 of its 13,000". */
const sampled = (shown: number, all: number) =>
  shown >= all ? `all ${all.toLocaleString('en-US')} of them` : `an even sample of ${shown.toLocaleString('en-US')} of its ${all.toLocaleString('en-US')}`;

/** A cell's value: exact, or (display codes, long texts) the level's value marked ≈. */
function readingOf(m: PanelMap): (r: number, c: number) => CellReading {
  if ('data' in m) return (r, c) => ({ value: m.data[r * m.cols + c] ?? 0 });
  return (r, c) => ({ value: codeValue(m, r, c), mark: '≈' });
}

function codeValue(m: MapCodes, r: number, c: number): number {
  const code = codeAt(m, r, c);
  return code < MAP_LEVELS ? levelValue(m.scale, code) : 0;
}

/** Coded maps show the numbers of their codes (marked ≈): the engine does not keep these maps' cells. */
function codedExact(m: PanelMap): Pick<HeatmapSpec, 'exact'> {
  return 'codes' in m ? { exact: readingOf(m) } : {};
}

const APPROXIMATE = '≈: to the colour scale\'s precision (long texts travel as colour codes)';
const valueLines = (labels: string[], value: (r: number, c: number) => CellReading, col: string, what: string) => (r: number, c: number) => {
  const v = value(r, c);
  return [`token ${r} “${labels[r] ?? ''}”`, `${col} ${c}: ${what} ${showReading(v, (x) => x.toFixed(5))}`, ...(v.mark ? [APPROXIMATE] : [])];
};

// ---------- transformer blocks ----------
export function blocksSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const { layers, heads, dim } = sizes(trace);
  const head = sectionHead('blocks', 9, 'Transformer blocks',
    `x₀ = tok_emb[ids] + pos_emb[0..T)\nfor l = 1…${layers || 'L'}:  x ← x + MultiHead(LN₁(x));  x ← x + FF(LN₂(x))   (T×${dim}, ${counted(heads, 'head')})`,
    'The GPT model is the same block repeated: causal multi-head attention and the feed-forward network, each behind a layer norm and a shortcut. ' +
      'Each thumbnail below is one head of one layer, badged with its strongest role; click one to open it large, or, with “knock it out” picked under the grid, to see the model without it.');
  const { model, header } = modelHeader(trace);
  if (!model) return html`${head}${header}`;
  const c = model.config;
  const T = labels.length;
  const thumbs = groupData(run, 'blocks');
  // Per layer, each token's residual norm after the block: how big the stream grows.
  const norms: PanelMap = {
    rows: model.residualNorms.length, cols: T,
    data: Float32Array.from(model.residualNorms.flatMap((n) => Array.from(n.output))),
  };
  return html`${head}${header}
    ${note(`${counted(c.layers, 'layer')} × ${counted(c.heads, 'head')}, dim ${c.dim}, context ${c.contextLength.toLocaleString('en-US')} tokens, vocabulary ${c.vocabSize.toLocaleString('en-US')}${c.qkvBias ? ', bias on Q, K, V' : ''}: ${model.parameters.toLocaleString('en-US')} parameters.`, 'note model-size')}
    ${thumbs ? thumbGrid(run, thumbs, c.layers, c.heads, T) : pendingSlot('blocks', `The ${c.layers} × ${c.heads} attention maps load when this section is shown…`, 'thumbs-pending')}
    ${thumbs && !isReport() ? headTools(run, c.layers, c.heads) : nothing}
    ${openedMap(run)}
    ${figure({
      name: 'model.residualNorms', title: 'residual stream after each layer: L2 norm per token', matrix: norms, rowLabels: model.residualNorms.map((_, l) => `layer ${l + 1}`), colLabels: labels,
      scale: 'sequential', rowAxis: 'layers (output)', colAxis: 'tokens', rowsAreTokens: false, colsAreTokens: true,
      describe: (r, col) => [`layer ${r + 1}, token ${col} “${labels[col] ?? ''}”`, `‖x‖ after the layer: ${(norms.data[r * T + col] ?? 0).toFixed(4)}`],
    }, { measures: 'L2 norm ‖x‖ of the token\'s residual vector (no unit)', scale: 'own scale' })}`;
}

/** With few heads a thumbnail would fill the panel's width: at most this wide (open it for the large map). */
const MAX_THUMB_PX = 180;

function thumbGrid(run: Run, thumbs: PanelBlockThumbs, layers: number, heads: number, T: number): TemplateResult {
  const side = thumbs.thumbs[0]?.[0]?.rows ?? T;
  const pooled = side < T;
  const first = thumbs.thumbs[0]?.[0];
  // Heads are numbered in the header row (a column of thumbnails can be 20 px wide at 360 px).
  // the badges are the head roles' result: asked for when the grid comes into view (webview/experiments.ts)
  return html`<figure class="block-grid" id="block-grid" data-layers=${thumbs.thumbs.length} data-heads=${heads} data-experiment="headRoles">
    <figcaption>every layer × head: attention weights, rows = queries ↓, columns = keys → (${T} × ${T}${pooled
      ? `, mean-pooled to ${side} × ${side}: a cell shows the mean weight of the cells it covers` : ''})</figcaption>
    <div class="thumbs" role="grid" style="grid-template-columns: auto repeat(${heads}, minmax(0, ${heads < 4 ? `${MAX_THUMB_PX}px` : '1fr'}))">
      <span class="corner" title="rows: layers; columns: heads">layer ╲ head</span>
      ${Array.from({ length: heads }, (_, h) => html`<span class="col-label" aria-label="head ${h + 1}" title="head ${h + 1}">${h + 1}</span>`)}
      ${thumbs.thumbs.map((row, layer) => html`<span class="row-label" aria-label="layer ${layer + 1}" title="layer ${layer + 1}">L${layer + 1}</span>
        ${row.map((codes, head) => {
          const extras = thumbExtras(run, layer, head);
          const action = state.experiments.click === 'ablate' ? (extras.pressed ? 'click to bring it back' : 'click to knock it out') : 'click to open it large';
          return html`<button type="button" class="thumb ${extras.classes}" data-layer=${layer} data-head=${head}
          aria-pressed=${String(extras.pressed ?? (state.open?.layer === layer && state.open.head === head))}
          title="layer ${layer + 1}, head ${head + 1}: ${pooled ? 'mean weights' : 'weights'} ${rangeText(codes)} on its own ${codes.scale.kind === 'log' ? 'log ' : ''}scale${extras.title}; ${action}"
          @click=${() => clickHead(layer, head, () => openMap(layer, head))}><canvas width=${codes.cols} height=${codes.rows} ${ref(paintThumb(codes))}></canvas>${extras.badge}</button>`;
        })}`)}
    </div>
    ${first ? thumbLegend(first, T, pooled) : nothing}
    ${thumbs.thumbs.length < layers ? note(`Only ${thumbs.thumbs.length} of ${layers} layers arrived (the analysis was stopped).`) : nothing}
  </figure>`;
}

const rangeText = (codes: MapCodes) => `${formatCell(codes.scale.min)}–${formatCell(codes.scale.max)}`;

/**
 * Thumbnails that share one scale look alike when pooling averages their patterns away: each is
 * drawn on its own scale, from its smallest to its largest cell (its tooltip gives the numbers).
 */
function thumbLegend(first: MapCodes, T: number, pooled: boolean): HTMLElement {
  const what = pooled ? 'mean attention weight of the cells a thumbnail cell covers' : WEIGHT_MEASURE;
  if (pooled) {
    return colorLegend(first.scale, `colour: ${what}; each thumbnail on its own log scale, from its smallest cell to its largest (hover one for its range), so heads that differ look different; the opened map uses the shared ${weightRangeText(T)} scale`, ['its smallest', 'its largest']);
  }
  return colorLegend(first.scale, `colour: ${what}; one ${weightRangeText(T)} scale for every thumbnail`);
}

/** Paints a thumbnail once: a pixel a cell, scaled up by CSS; masked cells (future keys) transparent. */
const painted = new WeakMap<HTMLCanvasElement, MapCodes>();
const paintThumb = (codes: MapCodes) => (element?: Element) => {
  const canvas = element as HTMLCanvasElement | undefined;
  if (!canvas || painted.get(canvas) === codes) return;
  painted.set(canvas, codes);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(codes.cols, codes.rows);
  for (let r = 0; r < codes.rows; r++) {
    for (let c = 0; c < codes.cols; c++) {
      const code = codeAt(codes, r, c);
      if (code === CODE_MASKED) continue;
      const [red, green, blue] = colorOf(codes.scale, code < MAP_LEVELS ? levelValue(codes.scale, code) : 0);
      const i = (r * codes.cols + c) * 4;
      image.data[i] = red;
      image.data[i + 1] = green;
      image.data[i + 2] = blue;
      image.data[i + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
};

function openMap(layer: number, head: number): void {
  const run = state.run;
  if (!run) return;
  state.open = { layer, head };
  const group = `block:${layer}` as const;
  if (!run.groups.has(group) && !run.requested.has(group)) {
    run.requested.add(group);
    post({ type: 'requestGroup', runId: run.runId, group });
  }
  state.bringIntoView = `map-blocks-${layer}-heads-${head}`;
  changed('blocks');
}

function openedMap(run: Run): TemplateResult {
  const { labels } = run;
  const open = state.open;
  if (!open) return html`<div id="block-detail">${note('Click a thumbnail to open its map large, with the query and key tokens and the weight of the hovered cell.', 'hint')}</div>`;
  const { layer, head } = open;
  const map = groupData(run, `block:${layer}`)?.heads[head];
  if (!map) return html`<div id="block-detail"><p class="hint">Loading layer ${layer + 1}, head ${head + 1}…</p></div>`;
  const T = labels.length;
  const weight = readingOf(map);
  // The CSV export reads the stages' trace, which does not hold the model's maps.
  return html`<div id="block-detail">${figure({
    name: `blocks.${layer}.heads.${head}`, title: `layer ${layer + 1}, head ${head + 1}: attention weights`, matrix: map,
    rowLabels: labels, colLabels: labels, ...weightColours(T), rowAxis: 'queries', colAxis: 'keys', rowsAreTokens: true, colsAreTokens: true,
    masked: (r, c) => c > r, ...codedExact(map),
    describe: (r, c) => {
      const w = weight(r, c);
      return [`query ${r} “${labels[r] ?? ''}” (row) → key ${c} “${labels[c] ?? ''}” (column)`,
        c > r ? 'future token: masked' : `weight ${showReading(w, (x) => x.toFixed(4))}`, ...(w.mark ? [APPROXIMATE] : [])];
    },
  }, { measures: WEIGHT_MEASURE, scale: `the shared ${weightRangeText(T)} scale of every attention map` }, { exports: 'png' })}</div>`;
}
