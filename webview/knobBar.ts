// The bar of knobs at the top of the panel (heads, dropout, seed, dim, tokenizer, JSON export),
// the status line and the error box. The knobs show the settings, except where the page shows a
// result the settings did not make: sizes fixed by a weights file, or an analysis that failed
// (then they show the values of the result on the page, and the error box says so).
import { html, nothing, type TemplateResult } from 'lit';
import { TOKENIZER_KINDS } from '../src/engine/types';
import type { Knob, KnobValues, PanelTrace } from '../src/shared/protocol';
import { post } from './host';
import { knobProblem, validHeads } from '../src/shared/knobs';
import { changed, state } from './state';

/** What the knobs show, and why where it is not the settings. */
interface Shown {
  values: KnobValues;
  attnDim: number;
  /** A weights file fixes dim and heads: its name. */
  fixedBy?: string;
}

const ofTrace = (t: PanelTrace): KnobValues => ({ heads: t.config.heads, dropout: t.config.dropout, seed: t.config.seed, dim: t.config.dim, tokenizer: t.config.tokenizer });

function shown(): Shown | undefined {
  const trace = state.run?.trace;
  if (trace && state.error) return { values: ofTrace(trace), attnDim: trace.config.attnDim };
  const settings = state.settings ?? (trace && ofTrace(trace));
  if (!settings) return undefined;
  const source = trace?.weightsSource ?? 'seeded';
  if (trace && source !== 'seeded') {
    // With a weights file the sizes and the tokenizer are the file's (changing the setting would not change the model).
    return { values: { ...settings, heads: trace.config.heads, dim: trace.config.dim, tokenizer: trace.config.tokenizer }, attnDim: trace.config.attnDim, fixedBy: source };
  }
  // Until a trace says otherwise, the attention dimension is dim (llm101.attnDim 0).
  return { values: settings, attnDim: trace && trace.config.dim === settings.dim ? trace.config.attnDim : settings.dim };
}

/** What the settings hold for a knob, as text (undefined before the host sent them). */
export function settingOf(knob: Knob): string | undefined {
  return state.settings ? String(state.settings[knob]) : undefined;
}

/**
 * Sends a knob's new value, or shows why it cannot be written (the host checks again). A value equal
 * to what `state.settings` holds is sent too: the settings may not yet show a write still on its way
 * (0.3 typed, then 0.4 back before 0.3 arrived), and the host writing an unchanged value is no change.
 */
function commitKnob(knob: Knob, value: number | string): void {
  const now = shown();
  const values = now?.values ?? state.settings;
  const problem = knobProblem(knob, value, { heads: values?.heads ?? 1, dim: now?.attnDim ?? values?.dim ?? 1, fromFile: Boolean(now?.fixedBy) });
  state.knobMessage = problem ? { knob, text: problem, setting: settingOf(knob) } : undefined;
  // a refused value is no draft: the field keeps it beside its message until the settings change
  if (problem && knob !== 'heads' && knob !== 'tokenizer') delete state.drafts[knob];
  changed();
  if (!problem) post({ type: 'setKnob', knob, value: knob === 'tokenizer' ? String(value) : Number(value) });
}

const valueOf = (e: Event) => String((e.currentTarget as unknown as { value: string }).value);

export function knobBar(): TemplateResult {
  const now = shown();
  const v = now?.values;
  // The model on the page names itself (a bundled model's name, a hub id, else the file's name).
  const why = now?.fixedBy ? `The loaded model, ${now.fixedBy}, fixes heads and dim: its weights have these shapes. To choose them: LLM 101: Load Model… → Seeded, untrained` : '';
  const box = (knob: Knob, label: string, control: TemplateResult) => {
    const message = state.knobMessage?.knob === knob ? state.knobMessage.text : undefined;
    return html`<label class="knob ${message ? 'invalid' : ''}"><span>${label}</span>${control}<span class="knob-message" id="knob-${knob}-message" role="alert" ?hidden=${!message}>${message ?? ''}</span></label>`;
  };
  // No min or max: the field's own range check would pop up beside ours (ours names the fix).
  const field = (knob: 'dropout' | 'seed' | 'dim', step: string, disabled = false) => box(knob, knob, html`<vscode-textfield id="knob-${knob}" type="number" step=${step}
    value=${state.drafts[knob] ?? (v ? String(v[knob]) : '')} ?disabled=${disabled} title=${disabled ? why : ''}
    @input=${(e: Event) => { state.drafts[knob] = valueOf(e); }}
    @change=${(e: Event) => commitKnob(knob, valueOf(e))} @keydown=${(e: KeyboardEvent) => { if (e.key === 'Enter') commitKnob(knob, valueOf(e)); }}></vscode-textfield>`);
  // Heads: only the counts that divide the attention dimension are offered (and a current invalid value, marked).
  const valid = now ? validHeads(now.attnDim) : [];
  const heads = v?.heads;
  const options = heads === undefined || valid.includes(heads) ? valid : [...valid, heads].sort((a, b) => a - b);
  return html`<form id="knobs" @submit=${(e: Event) => e.preventDefault()}>
    ${box('heads', 'heads', html`<select id="knob-heads" data-attn-dim=${now?.attnDim ?? ''} ?disabled=${Boolean(now?.fixedBy)}
      title=${now?.fixedBy ? why : `heads: the divisors of the attention dimension (${now?.attnDim ?? '…'})`} @change=${(e: Event) => commitKnob('heads', valueOf(e))}>
      ${options.map((h) => html`<option value=${h} ?disabled=${!valid.includes(h)} ?selected=${h === heads}>${valid.includes(h) ? h : `${h} ✗`}</option>`)}</select>`)}
    ${field('dropout', '0.05')}
    ${field('seed', '1')}
    ${field('dim', '1', Boolean(now?.fixedBy))}
    ${box('tokenizer', 'tokenizer', html`<vscode-single-select id="knob-tokenizer" .value=${v?.tokenizer ?? 'word'} @change=${(e: Event) => commitKnob('tokenizer', valueOf(e))}>
      ${TOKENIZER_KINDS.map((kind) => html`<vscode-option value=${kind} ?selected=${kind === v?.tokenizer}>${kind}</vscode-option>`)}</vscode-single-select>`)}
    <button id="export-json" type="button" class="export" title="Export the whole trace (every matrix) as JSON" @click=${() => post({ type: 'exportJson' })}><i class="codicon codicon-json"></i> JSON</button>
  </form>`;
}

/** The status line and, after a failed analysis, what failed and what the page shows instead. */
export function statusAndError(): TemplateResult {
  const error = state.error;
  const c = state.run?.trace.config;
  // busy: the codicon spinner (an emoji there showed as a box where the system has no emoji font)
  const spinner = state.status.state === 'busy' ? html`<i class="codicon codicon-loading codicon-modifier-spin" aria-hidden="true"></i> ` : nothing;
  return html`<div id="status" role="status" data-state=${state.status.state}>${spinner}${state.status.text}</div>
    <div id="error" role="alert" ?hidden=${!error}>${error ? html`<strong>Cannot analyze: </strong>${error.message}${c
      ? html`<div class="shown-instead">The page below is the last result that worked, made with heads ${c.heads} · dim ${c.dim} · ${c.tokenizer} tokenizer · dropout ${c.dropout} · seed ${c.seed}; the knobs show its values.</div>`
      : nothing}` : nothing}</div>`;
}
