// Activation patching: the text on show is the clean run; the learner types a corrupted text of
// the same token count, an answer and a wrong token. For each layer and position the clean
// residual stream entering that block is patched into the corrupted run; the map shows how much
// of the clean answer it brings back, (m_patched − m_corrupt) / (m_clean − m_corrupt), with
// m = logit(answer) − logit(wrong) at the last position. Progress and Cancel.
import { html, nothing, type TemplateResult } from 'lit';
import type { PatchingView } from '../src/shared/experimentsProtocol';
import { askExperiment, experimentStatus, fieldValue, gridMatrix, resultOf } from './experiments';
import { modelHeader, sizes } from './model';
import { visible } from './notes';
import { state, type Run } from './state';
import { figure, note, sectionHead } from './view';

/** The text the model read (the window's, for a longer text): where a corrupted copy starts. */
function cleanText(run: Run): string {
  const tokens = run.trace.tokens;
  return run.source.slice(tokens[0]?.start ?? 0, tokens.at(-1)?.end ?? 0);
}

export function patchingSection(run: Run): TemplateResult {
  const { layers } = sizes(run.trace);
  const head = sectionHead('patching', 13, 'Where the answer is decided',
    'm = logit(answer) − logit(wrong) at the last position\n' +
      `map[l][t] = (m_patched(l, t) − m_corrupt) / (m_clean − m_corrupt)   (l = 1…${layers}: the stream entering block l)`,
    'Run the model on your text (clean) and on a corrupted copy that changes the answer, e.g. one name swapped. ' +
      'Then, one layer and position at a time, put the clean residual stream into the corrupted run: where that brings the clean answer back (1), the information that decides it is there.');
  const { model, header } = modelHeader(run.trace);
  if (!model) return html`${head}${header}`;
  const p = state.experiments.patching;
  const T = run.labels.length;
  const corrupt = p.corrupt || cleanText(run);
  const predicted = model.nextToken.tokens[0]?.text ?? '';
  const answer = p.answer || predicted;
  const field = (key: 'corrupt' | 'answer' | 'wrong') => (e: Event) => { p[key] = fieldValue(e); };
  const running = run.experiments.get('patch')?.state === 'running';
  const go = () => {
    const form = document.getElementById('patching-knobs');
    const value = (id: string) => String((form?.querySelector(`#${id}`) as unknown as { value?: string } | null)?.value ?? '');
    Object.assign(p, { corrupt: value('patching-corrupt'), answer: value('patching-answer'), wrong: value('patching-wrong') });
    askExperiment({ kind: 'patch', corrupt: p.corrupt, answer: p.answer, wrong: p.wrong });
  };
  const view = resultOf(run, 'patch')?.view;
  return html`${head}${header}
    <div class="model-knobs patching" id="patching-knobs">
      <label class="knob wide"><span>corrupted text (the same number of tokens as yours: ${T})</span><textarea id="patching-corrupt" rows="2" .value=${corrupt} @change=${field('corrupt')}></textarea></label>
      <label class="knob"><span>answer (one token)</span><vscode-textfield id="patching-answer" value=${answer} placeholder=${predicted} @change=${field('answer')}></vscode-textfield></label>
      <label class="knob"><span>wrong token (one token)</span><vscode-textfield id="patching-wrong" value=${p.wrong} placeholder="e.g. the corrupted answer" @change=${field('wrong')}></vscode-textfield></label>
      <button type="button" class="primary" id="patching-run" ?disabled=${running} title="${layers} layers × ${T} positions: ${layers * T} runs" @click=${go}>Patch (${layers * T} runs)</button>
    </div>
    ${experimentStatus(run, 'patch', 'Patching each layer and position')}
    ${view ? patchingResult(run, view) : nothing}`;
}

function patchingResult(run: Run, view: PatchingView): TemplateResult {
  const labels = view.tokens.map(visible);
  const corrupt = view.corruptTokens.map(visible);
  const m = (x: number) => `${x.toFixed(4)} (logit “${visible(view.answer.text)}” − logit “${visible(view.wrong.text)}”)`;
  return html`${figure({
    name: 'experiments.patching', title: `share of the clean answer restored: “${visible(view.answer.text)}” over “${visible(view.wrong.text)}”`, matrix: gridMatrix(view.grid),
    rowLabels: view.grid.map((_, l) => `into block ${l + 1}`), colLabels: labels.map((l, t) => (l === corrupt[t] ? l : `${l}/${corrupt[t] ?? ''}`)),
    rowAxis: 'block patched', colAxis: 'position (clean/corrupted token where they differ)', scale: 'diverging', rowsAreTokens: false, colsAreTokens: run.labels.length === labels.length,
    describe: (r, c) => {
      const x = view.grid[r]?.[c] ?? 0;
      return [`the clean stream entering block ${r + 1} at position ${c} (clean “${labels[c] ?? ''}”, corrupted “${corrupt[c] ?? ''}”)`,
        `restores ${(100 * x).toFixed(1)}% of the clean answer's lead (${x.toFixed(4)}; 1: all of it, 0: none, below 0: pushes further to the wrong token)`];
    },
  }, {
    measures: '(m_patched − m_corrupt) / (m_clean − m_corrupt): 1 (red) the clean answer comes back, 0 (grey) nothing changes, below 0 (blue) further from it', scale: 'own scale',
  }, { exports: 'png' })}
    ${note(`m_clean = ${m(view.clean)} on your text; m_corrupt = ${m(view.corrupt)} on the corrupted one. ` +
      'A column that lights up in the early layers and moves to the last position in later ones shows information being moved by attention.', 'note computed', 'patching-note')}`;
}
