// The panel app: receives a trace from the extension host and draws it. It computes nothing
// about the model; the only arithmetic here is for display (scaling a score for a tooltip).
// Messages change the one state (webview/state.ts); the page is drawn from it as templates
// (webview/sections.ts lists the sections).
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { html, nothing, render, type TemplateResult } from 'lit';
import { guard } from 'lit/directives/guard.js';
import { repeat } from 'lit/directives/repeat.js';
import { MODEL_SECTIONS, parseHostMessage, type GroupData, type HostMessage, type LazyGroup, type PanelTrace } from '../src/shared/protocol';
import { el } from './dom';
import { receiveExperiment, requestVisibleExperiments } from './experiments';
import { maps, setMapHost } from './elements';
import { cells, post, vscode } from './host';
import { hover } from './hover';
import { knobBar, settingOf, statusAndError } from './knobBar';
import { forgetNextTokenAsk, receiveGeneration, receiveNextToken } from './nextToken';
import { visible } from './notes';
import { SECTIONS } from './sections';
import { tokensSection } from './stages';
import { changed, onChange, revision, state, type PanelState, type Run } from './state';
import { counted } from '../src/shared/counted';

const app = document.getElementById('app') as HTMLElement;
let loading = app.querySelector(':scope > .placeholder') ?? undefined;
const tooltip = el('div', { id: 'tooltip', hidden: true, role: 'tooltip' });
document.body.append(tooltip);
setMapHost({ tooltip, onHoverToken: (query, key) => hover(query, key, true) });

// ---------- messages ----------
window.addEventListener('message', (event: MessageEvent) => {
  const message = parseHostMessage(event.data);
  if (!message) {
    post({ type: 'log', level: 'error', message: `ignored a malformed message: ${String((event.data as { type?: unknown })?.type)}` });
    return;
  }
  handle(message);
});
window.addEventListener('error', (e) => post({ type: 'log', level: 'error', message: e.message }));

function handle(message: HostMessage): void {
  switch (message.type) {
    case 'trace': {
      const t0 = performance.now();
      vscode.setState({ source: { text: message.source, title: message.title } });
      showRun(message, t0);
      // 'rendered' says the whole panel is painted: after the model's sections, when they follow
      if (!message.modelPending) requestAnimationFrame(() => post({ type: 'rendered', runId: message.runId, ms: performance.now() - t0 }));
      return;
    }
    case 'model': {
      const run = state.run;
      if (!run || run.runId !== message.runId || !run.modelPending) return;
      const { since } = run.modelPending;
      run.modelPending = undefined;
      run.trace = { ...run.trace, ...(message.model && { model: message.model }), ...(message.modelError !== undefined && { modelError: message.modelError }) };
      closeOpenBeyond(message.model);
      if (state.status.state === 'busy') state.status = readyStatus(run);
      changed(...MODEL_SECTIONS);
      requestAnimationFrame(() => post({ type: 'rendered', runId: message.runId, ms: performance.now() - since }));
      return;
    }
    case 'traceStart':
      // the tokens of a run newer than the one on show: they paint now, the trace follows
      if (message.runId <= (state.run?.runId ?? -1)) return;
      state.starting = {
        runId: message.runId, trace: message.start, labels: message.start.tokens.map((t) => visible(t.text)),
        source: message.source, hot: { query: null, key: null },
      };
      changed('tokens');
      return;
    case 'busy':
      state.status = { text: computingText(message.stage), state: 'busy' };
      changed();
      return;
    case 'error': {
      // a run that failed after its tokens came: the last run that worked is shown again
      if (state.starting && message.runId >= state.starting.runId) state.starting = undefined;
      // one that failed while its model ran (cancelled, say): its model's sections say why
      const pending = state.run;
      if (pending?.modelPending && message.runId >= pending.runId) {
        pending.modelPending = undefined;
        pending.trace = { ...pending.trace, modelError: message.message };
      }
      const old = state.error?.section;
      state.error = { message: message.message, ...(message.section && { section: message.section }) };
      state.status = { text: state.run ? 'Showing the last result that worked.' : '', state: 'error' };
      // A setting made invalid elsewhere is also said at the top of the stage it breaks.
      changed(...[old, message.section].filter((s): s is NonNullable<typeof s> => s !== undefined));
      return;
    }
    case 'knobs':
      state.settings = message.values;
      // a draft the settings now hold is written: the field shows the setting again
      for (const knob of ['dropout', 'seed', 'dim'] as const) {
        if (state.drafts[knob] !== undefined && Number(state.drafts[knob]) === message.values[knob]) delete state.drafts[knob];
      }
      changed();
      return;
    case 'knobRefused':
      state.knobMessage = { knob: message.knob, text: message.message, setting: settingOf(message.knob) };
      if (message.knob !== 'heads' && message.knob !== 'tokenizer') delete state.drafts[message.knob];
      changed();
      return;
    case 'reveal':
      // Before the first trace there is nothing to scroll to yet: remembered for the render.
      state.pendingReveal = message.section;
      changed();
      return;
    case 'highlightToken':
      hover(message.index, null, false);
      return;
    case 'group': {
      const { type: _type, runId, ...entry } = message;
      receiveGroup(runId, entry);
      return;
    }
      return;
    case 'nextToken':
      receiveNextToken(message.runId, message.view);
      return;
    case 'generation':
      receiveGeneration(message);
      return;
    case 'experimentProgress':
    case 'experimentResult':
    case 'experimentError':
      receiveExperiment(message);
      return;
    case 'cells':
      if (message.runId !== state.run?.runId) return;
      cells.accept(message);
      for (const map of maps()) map.refresh();
      return;
  }
}

/**
 * The engine reports each stage when it is done ('causal'); the learner reads what is being
 * computed now, by its section's name. Other reports ('tokenizing', 'running the model') are
 * plain words already: "Running the model…".
 */
const NEXT_AFTER: Record<string, string> = {
  starting: 'the tokens',
  tokens: 'the embeddings (section 2)',
  embeddings: 'simple attention (section 3)',
  simple: 'self-attention (section 4)',
  selfAttention: 'causal attention (section 5)',
  causal: 'the heads of multi-head attention (section 6)',
  multiHead: 'layer normalisation (section 7)',
  layerNorm: 'the embeddings\' principal components',
};
function computingText(stage: string): string {
  const next = NEXT_AFTER[stage];
  return next ? `Computing ${next}…` : `${stage.charAt(0).toUpperCase()}${stage.slice(1)}…`;
}

/** A new trace: the run on show, with nothing of the old one's lazily sent parts; `since`: when it came. */
function showRun(message: Extract<HostMessage, { type: 'trace' }>, since: number): void {
  const { trace, runId } = message;
  if (state.run?.runId !== runId) {
    cells.clear();
    forgetNextTokenAsk();
    // A finished generation is news for the re-analysis of prompt + continuation, not after it.
    const g = state.generation;
    if (g && g.state !== 'running' && (g.tracesShown = (g.tracesShown ?? 0) + 1) > 1) state.generation = undefined;
    closeOpenBeyond(trace.model);
  }
  if (state.starting && state.starting.runId <= runId) state.starting = undefined;
  const T = trace.tokens.length;
  state.run = {
    runId, trace, labels: trace.tokens.map((t) => visible(t.text)), title: message.title, source: message.source, elapsedMs: message.elapsedMs,
    groups: new Map(), requested: new Set(), position: Math.max(0, T - 1), nextToken: undefined, hot: { query: null, key: null },
    experiments: new Map(), ...(message.modelPending && { modelPending: { since } }),
  };
  state.error = undefined;
  // A refused value stays said until its setting changes: a trace of an earlier change (another
  // knob's) can arrive after the refusal and is no answer to it.
  if (state.knobMessage && state.knobMessage.setting !== settingOf(state.knobMessage.knob)) state.knobMessage = undefined;
  state.status = readyStatus(state.run);
  changed();
}

/** The map opened large is closed when the new model has no such layer or head. */
function closeOpenBeyond(model: PanelTrace['model']): void {
  const open = state.open;
  if (open && model && (open.layer >= model.config.layers || open.head >= model.config.heads)) state.open = undefined;
}

/** The status line of a run on show: its sizes and how long its stages took. */
function readyStatus(run: Run): PanelState['status'] {
  const c = run.trace.config;
  return {
    text: `${run.trace.tokens.length} tokens · ${c.tokenizer} tokenizer (vocabulary ${c.vocabSize.toLocaleString()}) · dim ${c.dim} · attnDim ${c.attnDim} · ${counted(c.heads, 'head')} × ${c.headDim} columns · dropout ${c.dropout} · seed ${c.seed} · ${run.elapsedMs.toFixed(0)} ms`,
    state: 'ready',
  };
}

function receiveGroup(runId: number, entry: GroupData): void {
  const { group } = entry;
  const run = state.run;
  if (!run || runId !== run.runId) return;
  run.groups.set(group, entry);
  run.requested.delete(group);
  changed(...SECTIONS.filter((s) => s.draws?.(group)).map((s) => s.id));
}

// ---------- the page ----------
/** A section on the page: its id, what its view depends on (drawn again when one changes), its view. */
interface Shown {
  id: string;
  deps: unknown[];
  view: () => TemplateResult;
}

/**
 * The sections on the page: a run's (SECTIONS), or, while a newer run's trace is on its way, its
 * tokens and a note on what is being computed. One template for both, so the knob bar and the
 * tokens section stay the same elements when the trace arrives.
 */
function shownSections(run: Run | undefined): Shown[] | undefined {
  const starting = state.starting;
  if (starting) {
    return [
      { id: 'tokens', deps: [starting, revision('tokens')], view: () => tokensSection(starting) },
      {
        id: 'computing', deps: [starting, state.status.text], view: () => {
          const { heads, dim } = starting.trace.config;
          const T = starting.trace.tokens.length.toLocaleString();
          return computingNote(computingText('tokens'), `The embeddings, the ${heads === 1 ? 'head\'s' : `${heads} heads'`} attention (${T} × ${T} weights each, at dim ${dim}) and the model's sections appear here when they are computed. Cancel from the notification stops it; the last result stays.`);
        },
      },
    ];
  }
  if (!run) return undefined;
  const sections: Shown[] = SECTIONS.filter((s) => s.shown?.(run) ?? true).map((s) => ({
    id: s.id, deps: [run, revision(s.id), state.error?.section === s.id && state.error.message], view: () => s.view(run),
  }));
  const pending = run.modelPending;
  if (pending) {
    sections.push({
      id: 'computing', deps: [run, pending, state.status.text], view: () => computingNote('Running the model…',
        `The model's sections (feed-forward, the transformer blocks, the next token and the experiments) follow when the whole model has run on these ${run.trace.tokens.length.toLocaleString()} tokens.`),
    });
  }
  return sections;
}

function page(run: Run | undefined) {
  const shown = shownSections(run);
  return html`${knobBar()}${statusAndError()}
    <main id="content">${shown ? repeat(shown, (s) => s.id, (s) => html`<section id=${s.id}>${guard(s.deps, s.view)}</section>`)
    : state.error ? nothing : html`<p class="placeholder">Loading the playground…</p>`}</main>`;
}

/**
 * In place of the sections on their way: what is being computed now (as the status line says,
 * else `idle`), and what follows.
 */
function computingNote(idle: string, follows: string): TemplateResult {
  const busy = state.status.state === 'busy' ? state.status.text : idle;
  return html`<div class="computing" aria-live="polite">
      <p class="placeholder"><i class="codicon codicon-loading codicon-modifier-spin"></i> ${busy}</p>
      <p class="note">${follows}</p>
    </div>`;
}

function draw(): void {
  app.dataset.state = state.error ? 'error' : state.run ? 'ready' : 'waiting';
  app.dataset.runId = state.run ? String(state.run.runId) : ''; // which run is on show (e2e waits for a newer one)
  app.dataset.startingRunId = state.starting ? String(state.starting.runId) : ''; // a newer run whose tokens alone are shown
  // The page's own placeholder (shown before this script ran) gives way to the template's.
  loading?.remove();
  loading = undefined;
  render(page(state.run), app);
  revealPending();
  requestVisibleGroups();
  requestVisibleExperiments();
  const wanted = state.bringIntoView && document.getElementById(state.bringIntoView);
  if (wanted) {
    state.bringIntoView = undefined;
    (wanted.closest('figure') ?? wanted).scrollIntoView({ block: 'nearest' });
  }
}
onChange(draw);

/**
 * A revealed section stays at the top while the sections above it finish painting (their maps
 * arrive after the reveal and grow them, later on a busy machine), until the learner scrolls, types
 * or clicks, or for ANCHOR_MS at most.
 */
let anchored: { section: HTMLElement; until: number } | undefined;
const ANCHOR_MS = 8000;
/** Until when a scroll event is this file's own scrollIntoView (any other scroll ends the anchor). */
let ownScrollUntil = 0;

function scrollToTop(section: HTMLElement): void {
  ownScrollUntil = performance.now() + 150;
  section.scrollIntoView({ block: 'start' });
}

function revealPending(): void {
  const target = state.pendingReveal && document.getElementById(state.pendingReveal);
  if (!target) return;
  state.pendingReveal = undefined;
  scrollToTop(target);
  anchored = { section: target, until: performance.now() + ANCHOR_MS };
  // checked each frame while anchored (a ResizeObserver on the page would race the maps' own)
  const follow = () => {
    keepAnchored();
    if (anchored) requestAnimationFrame(follow);
  };
  requestAnimationFrame(follow);
  target.classList.add('flash');
  setTimeout(() => target.classList.remove('flash'), 1200);
}

function keepAnchored(): void {
  if (!anchored) return;
  if (performance.now() > anchored.until || !anchored.section.isConnected) {
    anchored = undefined;
    return;
  }
  if (offTop(anchored.section)) scrollToTop(anchored.section);
}

/** Whether a section is away from where scrollIntoView puts it (scroll-margin-top, under the sticky bar). */
function offTop(section: HTMLElement): boolean {
  const margin = parseFloat(getComputedStyle(section).scrollMarginTop) || 0;
  return Math.abs(section.getBoundingClientRect().top - margin) > 2;
}
for (const event of ['wheel', 'keydown', 'pointerdown', 'touchstart'] as const) addEventListener(event, () => { anchored = undefined; }, { passive: true });
// a scroll that is not ours and moved the section (a scrollbar drag, a script) ends it too
addEventListener('scroll', () => { if (anchored && performance.now() > ownScrollUntil && offTop(anchored.section)) anchored = undefined; }, { passive: true });

/**
 * Asks the host for every pending group that is on screen or within 400 px of it, nearest the
 * middle of the screen first: the host answers in order over one channel, so the section the
 * user scrolled to comes before its neighbours.
 */
function requestVisibleGroups(): void {
  const run = state.run;
  if (!run) return;
  const wanted: { group: LazyGroup; fromMiddle: number }[] = [];
  for (const slot of document.querySelectorAll<HTMLElement>('figure.pending[data-group]')) {
    const group = slot.dataset.group as LazyGroup;
    if (run.requested.has(group) || run.groups.has(group)) continue;
    const box = slot.getBoundingClientRect();
    if (box.bottom < -400 || box.top > window.innerHeight + 400) continue;
    wanted.push({ group, fromMiddle: Math.abs((box.top + box.bottom) / 2 - window.innerHeight / 2) });
  }
  wanted.sort((a, b) => a.fromMiddle - b.fromMiddle);
  for (const { group } of wanted) {
    run.requested.add(group);
    post({ type: 'requestGroup', runId: run.runId, group });
  }
}
let scrollTimer: number | undefined;
window.addEventListener('scroll', () => {
  clearTimeout(scrollTimer);
  scrollTimer = window.setTimeout(() => {
    requestVisibleGroups();
    requestVisibleExperiments();
  }, 80);
}, { passive: true });

draw();
// Headings scrolled to must clear the sticky bar, whatever its height (see scroll-margin-top).
const bar = document.getElementById('knobs');
if (bar) new ResizeObserver(() => document.documentElement.style.setProperty('--bar-height', `${bar.offsetHeight}px`)).observe(bar);
post({ type: 'ready' });
