// Direct logit attribution: the logit of the predicted (or a chosen) next token at a position,
// split into what each part of the model wrote into the residual stream, each read through the
// output head and the final layer norm with its scale frozen at that position. A layers × (heads
// + MLP) diverging map, then the parts outside the blocks, and their sum beside the logit.
import { html, nothing, type TemplateResult } from 'lit';
import type { AttributionView, ExperimentQuery } from '../src/shared/experimentsProtocol';
import { askExperiment, experimentStatus, fieldValue, gridMatrix, resultOf, signed, whenShown } from './experiments';
import { modelHeader, sizes } from './model';
import { visible } from './notes';
import { state, type Run } from './state';
import { figure, note, sectionHead } from './view';
import { counted } from '../src/shared/counted';

/** The position picked, while the text has it; else the last. */
function attributionPosition(run: Run): number {
  const { position } = state.experiments.attribution;
  const T = run.labels.length;
  return position !== undefined && position < T ? position : T - 1;
}

/** The attribution at the position and token picked (at first the last position and its predicted token). */
function attributionQuery(run: Run): ExperimentQuery {
  const { token } = state.experiments.attribution;
  return { kind: 'attribute', position: attributionPosition(run), ...(token.trim() !== '' && { token }) };
}
whenShown('attribute', attributionQuery);

export function attributionSection(run: Run): TemplateResult {
  const { layers, heads } = sizes(run.trace);
  const head = sectionHead('attribution', 12, 'Which parts wrote the prediction',
    'logit(tok) = LN_f(x)·W_out[tok] = Σ_parts (part / σ)·γ·W_out[tok] + β·W_out[tok]\n' +
      `parts of x: embeddings + Σ_l (Σ_h head_l,h·W_O + b_O,l) + Σ_l MLP_l   (${counted(layers, 'layer')} × ${counted(heads, 'head')})`,
    'The residual stream at a position is a sum: the embeddings plus what every head and every feed-forward (MLP) added. ' +
      'Freeze the final layer norm\'s scale σ at that position and the logit of a token splits into one number per part: how much that part pushed the token up (positive) or down (negative).');
  const { model, header } = modelHeader(run.trace);
  if (!model) return html`${head}${header}`;
  const a = state.experiments.attribution;
  const position = attributionPosition(run);
  const view = resultOf(run, 'attribute')?.view;
  const go = () => askExperiment(attributionQuery(run));
  return html`${head}${header}
    <div class="model-knobs" id="attribution-knobs" data-experiment="attribute">
      <label class="knob"><span>after position</span><select id="attribution-position" @change=${(e: Event) => { a.position = Number((e.currentTarget as HTMLSelectElement).value); go(); }}>
        ${run.labels.map((l, t) => html`<option value=${t} ?selected=${t === position}>${t} “${l}”</option>`)}</select></label>
      <label class="knob"><span>next token (empty: the predicted one)</span><vscode-textfield id="attribution-token" placeholder="predicted" value=${a.token}
        @change=${(e: Event) => { a.token = fieldValue(e); go(); }} @keydown=${(e: KeyboardEvent) => { if (e.key === 'Enter') { a.token = fieldValue(e); go(); } }}></vscode-textfield></label>
    </div>
    ${experimentStatus(run, 'attribute', 'Splitting the logit')}
    ${view ? attributionResult(run, view) : nothing}`;
}

function attributionResult(run: Run, view: AttributionView): TemplateResult {
  const L = view.heads.length;
  const H = view.heads[0]?.length ?? 0;
  // (L, H + 1): the heads of each layer, then its MLP
  const grid = view.heads.map((row, l) => [...row, view.mlps[l] ?? 0]);
  const matrix = gridMatrix(grid);
  const token = `“${visible(view.text)}” (id ${view.id})`;
  const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
  const parts: [string, number, string][] = [
    ['embeddings', view.embed, 'token + position embedding'],
    ['all heads', sum(view.heads.flat()), 'the map\'s head columns'],
    ['attention output biases', sum(view.attnBias), `b_O of each layer: ${view.attnBias.map((b) => b.toFixed(3)).join(', ')}`],
    ['all MLPs', sum(view.mlps), 'the map\'s MLP column'],
    ['final norm\'s bias', view.finalNormBias, 'β·W_out[tok]'],
  ];
  return html`${figure({
    name: 'experiments.attribution', title: `direct logit attribution of ${token} after position ${view.position} “${visible(run.labels[view.position] ?? '')}”`, matrix,
    rowLabels: grid.map((_, l) => `L${l + 1}`), colLabels: [...Array.from({ length: H }, (_, h) => `H${h + 1}`), 'MLP'],
    rowAxis: 'layers', colAxis: 'heads, then the layer\'s MLP', scale: 'diverging', rowsAreTokens: false, colsAreTokens: false,
    describe: (r, c) => [`layer ${r + 1}, ${c < H ? `head ${c + 1} (through its output projection)` : 'MLP (feed-forward)'}`,
      `adds ${signed(grid[r]?.[c] ?? 0)} to the logit of ${token}`],
  }, {
    measures: `contribution to the logit of ${token} (red: pushes it up, blue: down; logit units)`, scale: 'own scale',
  }, { exports: 'png' })}
    <table class="attribution-sum" id="attribution-sum"><tbody>
      ${parts.map(([name, value, what]) => html`<tr><th scope="row">${name}</th><td>${signed(value)}</td><td class="hint">${what}</td></tr>`)}
      <tr class="total"><th scope="row">sum of the parts</th><td>${view.sum.toFixed(4)}</td><td class="hint">${counted(L, 'layer')} × (${counted(H, 'head')} + bias + MLP) + embeddings + final bias</td></tr>
      <tr class="total"><th scope="row">the logit</th><td id="attribution-logit">${view.logit.toFixed(4)}</td><td class="hint">LN_f(x)·W_out[tok]: the difference is ${Math.abs(view.sum - view.logit).toExponential(1)}, rounding</td></tr>
    </tbody></table>
    ${note('A logit is a score before softmax: only differences between tokens\' logits change the probabilities. A part\'s number is what it alone adds to this token\'s logit, through the output head and the final layer norm with its scale frozen at this position.')}`;
}

