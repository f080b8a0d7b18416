// The playground panel's state, in one place: what the host sent (the run on show, the settings,
// an error), what the learner picked (toggles, the opened map, the sampling knobs, the hovered
// token), and what is on its way. Handlers change it and call `changed` with the sections whose
// view depends on what changed; main.ts draws the page from it (webview/sections.ts).
import type { ExperimentResult } from '../src/shared/experimentsProtocol';
import type { ExperimentKind, GroupData, KnobValues, Knob, LazyGroup, NextTokenView, PanelStart, PanelTrace, SectionId } from '../src/shared/protocol';

/** One analysis on show: the trace, and what arrived or was picked for it since. */
export interface Run {
  runId: number;
  trace: PanelTrace;
  /** The tokens as labels (whitespace made visible). */
  labels: string[];
  title: string;
  /** The text analyzed: the tokens' offsets are into it (the window strip shows what fell outside). */
  source: string;
  elapsedMs: number;
  /** Lazily sent parts ('simple', `head:3`, 'blocks', `block:1`, …), by group; read them with groupData. */
  groups: Map<LazyGroup, GroupData>;
  /** Groups asked of the host and not yet here. */
  requested: Set<LazyGroup>;
  /** The token whose next token is shown (hovering a token picks it). */
  position: number;
  /** The next-token view for `position` with the sampling knobs, once the host answered. */
  nextToken: NextTokenView | undefined;
  /** The hovered query and key tokens (lit in every map and chip). */
  hot: { query: number | null; key: number | null };
  /** The experiments asked of this run's model, the newest of each kind. */
  experiments: Map<ExperimentKind, ExperimentSlot>;
  /** The stages are shown and the model is still running: its sections follow ('model'); when the trace came (for 'rendered'). */
  modelPending?: { since: number };
}

/**
 * A run whose tokens arrived before its trace ('traceStart'): the tokens section paints from it
 * while the stages and the model are computed; the trace of the same runId replaces it.
 */
export type StartingRun = TokensRun & Pick<Run, 'runId'>;

/** What the tokens section reads: a run on show, or one still being computed. */
export type TokensRun = Pick<Run, 'labels' | 'source' | 'hot'> & { trace: PanelStart };

/** One experiment asked of the host: running (with progress), answered, refused or cancelled. */
export interface ExperimentSlot {
  request: number;
  state: 'running' | 'done' | 'error' | 'cancelled';
  progress?: { done: number; total: number };
  result?: ExperimentResult;
  /** Why it did not run, with the fix; shown next to the control that asked. */
  message?: string;
}

/** What the learner picked in the experiments (kept from run to run while it still applies). */
export interface ExperimentChoices {
  /** The lens position whose line chart is shown (a token index), undefined: the last. */
  lensPosition: number | undefined;
  /** What a click on a head in the blocks grid does: open its map, or knock it out. */
  click: 'open' | 'ablate';
  /** Heads knocked out (0-based), and how. */
  ablated: { layer: number; head: number }[];
  ablation: 'zero' | 'mean';
  /** Why the typed heads are not a list of heads (said under the field). */
  headsMessage?: string;
  /** Whether "Find induction heads" was asked: the heads above the threshold are outlined. */
  findInduction: boolean;
  /** Direct logit attribution: the position (undefined: the last) and the token as typed (empty: predicted). */
  attribution: { position: number | undefined; token: string };
  /** Activation patching's inputs as typed. */
  patching: { corrupt: string; answer: string; wrong: string };
}

/** The data of group G, by the kind of its name ('causal': causal maps, `head:${number}`: one head, …). */
export type DataOf<G extends LazyGroup> = GroupData extends infer E ? E extends { group: infer K; data: infer D } ? G extends K ? D : never : never : never;

/** A lazily sent group's data, once it arrived (the host's message paired `group` with its data, checked by its schema). */
export const groupData = <G extends LazyGroup>(run: Run, group: G): DataOf<G> | undefined => run.groups.get(group)?.data as DataOf<G> | undefined;

export type GenerationState = 'running' | 'done' | 'cancelled' | 'error';
export interface Generation {
  state: GenerationState;
  text: string;
  tokens: number;
  message?: string;
  /** Traces shown since it ended: a finished one is news for the re-analysis after it only. */
  tracesShown?: number;
}

export interface PanelState {
  run: Run | undefined;
  /** A newer run than `run` whose tokens are here and whose trace is on its way. */
  starting: StartingRun | undefined;
  /** What the settings hold (the host's 'knobs'). */
  settings: KnobValues | undefined;
  /** A refused knob value and its fix, under its knob, with what the setting held when it was refused. */
  knobMessage: { knob: Knob; text: string; setting: string | undefined } | undefined;
  /**
   * What is typed in a number knob until the settings hold it: a settings update still on its way
   * (of an earlier write) redraws the field with the draft, not with the older value.
   */
  drafts: Partial<Record<'dropout' | 'seed' | 'dim', string>>;
  status: { text: string; state: 'idle' | 'busy' | 'ready' | 'error' };
  /** The last analysis failed: why, and the stage it breaks (the run shown is older). */
  error: { message: string; section?: SectionId } | undefined;
  /** Which map each toggle shows. */
  views: { embeddings: 'token' | 'position' | 'input'; self: 'scores' | 'weights'; simple: 'scores' | 'weights' };
  /** The layer × head map opened large (kept from run to run while it exists). */
  open: { layer: number; head: number } | undefined;
  /** The sampling knobs as typed (kept across runs), and a refused value's message. */
  sampling: { temperature: string; topK: string; maxNewTokens: string; message?: string; generateMessage?: string };
  generation: Generation | undefined;
  /** A section to scroll to once it exists (a reveal before the first trace). */
  pendingReveal: SectionId | undefined;
  /** The id of a map to bring into view once it is drawn (a thumbnail opened large). */
  bringIntoView: string | undefined;
  experiments: ExperimentChoices;
}

export const state: PanelState = {
  run: undefined,
  starting: undefined,
  settings: undefined,
  knobMessage: undefined,
  drafts: {},
  status: { text: 'Waiting for text: select some in an editor and run “LLM 101: Analyze Selection”.', state: 'idle' },
  error: undefined,
  views: { embeddings: 'input', self: 'weights', simple: 'weights' },
  open: undefined,
  sampling: { temperature: '1', topK: '', maxNewTokens: '30' },
  generation: undefined,
  pendingReveal: undefined,
  bringIntoView: undefined,
  experiments: {
    lensPosition: undefined, click: 'open', ablated: [], ablation: 'zero', findInduction: false,
    attribution: { position: undefined, token: '' }, patching: { corrupt: '', answer: '', wrong: '' },
  },
};

/** Sections drawn again since the run began: a section's template is re-evaluated when its count moves. */
const revisions = new Map<string, number>();
export const revision = (id: string) => revisions.get(id) ?? 0;

let draw: () => void = () => {};
let scheduled = false;
/** main.ts's page renderer, called once per task however many changes came in it. */
export function onChange(render: () => void): void {
  draw = render;
}

/** Marks sections to draw again (none: only the bar, status and error) and schedules a render. */
export function changed(...sections: string[]): void {
  for (const id of sections) revisions.set(id, revision(id) + 1);
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    draw();
  });
}
