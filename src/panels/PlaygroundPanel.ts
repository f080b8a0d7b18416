// The one Playground panel: owns the WebviewPanel, runs the engine for the text it shows, posts
// the trace, and answers the webview's messages. The webview only draws.
import * as vscode from 'vscode';
import { webviewHtml } from './webviewHtml';
import { WebviewChannel } from './webviewChannel';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseWebviewMessage, type HostMessage, type SectionId, type WebviewMessage } from '../shared/protocol';
import { readSettings, knobValues, writeKnob, SECTION } from '../settings';
import { knobProblem } from '../shared/knobs';
import { EngineClient } from '../host/engineClient';
import { CancelledError, EngineError } from '../engine/config';
import { exportCsv, exportJson, exportPng } from './exports';
import type { AnalyzeReply } from '../shared/engineProtocol';
import type { Knob, PanelModelConfig, PanelTrace } from '../shared/protocol';
import type { Token, TraceConfig } from '../engine/types';
import type { ContextWindow } from '../engine/window';
import { windowExplanation } from '../shared/windowText';
import { PanelExperiments } from './experiments';

/**
 * What the host keeps of an analysis: the trace's id in the engine (which keeps the trace itself)
 * and what the editor needs, its tokens and configuration; or the too-many-tokens answer.
 */
export type PanelResult =
  | {
      kind: 'trace'; traceId: number; tokens: Token[]; config: TraceConfig; elapsedMs: number; weightsPath?: string;
      /** The model that ran beside the stages (its sizes and where its weights come from), or why none did. */
      model?: { config: PanelModelConfig; source: string } | { error: string };
      /** Which of the text's tokens the model read, when the text is longer than its context. */
      window?: ContextWindow;
      /** How the checkpoint was trained, when its metadata says. */
      trained?: PanelTrace['trained'];
    }
  | Exclude<AnalyzeReply, { kind: 'trace' }>;

export const VIEW_TYPE = 'llm101.playground';

/** The stage whose section shows a setting's error, besides the bar. */
const SETTING_SECTIONS: Record<string, SectionId> = {
  tokenizer: 'tokens',
  dim: 'embeddings',
  contextLength: 'embeddings',
  seed: 'embeddings',
  dropout: 'attention-causal',
  heads: 'attention-heads',
};

/** What the panel shows: the text and where it came from (to map tokens back to the editor). */
export interface PanelSource {
  text: string;
  title: string;
  /** Document and offset of text[0] in it, when the text came from an editor. */
  uri?: string;
  offset?: number;
  /** Where the context window starts (a token index) when the learner moved it; absent: the last tokens. */
  windowFrom?: number;
}

/** Persisted by the webview (getState/setState) so a reloaded window restores the panel. */
export interface PanelState {
  source: PanelSource;
}

const highlight = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'),
  borderColor: new vscode.ThemeColor('editor.findMatchBorder'),
  borderStyle: 'solid',
  borderWidth: '1px',
});
// Text outside the model's context window: faded, so the editor shows what the model does not read.
const outsideWindow = vscode.window.createTextEditorDecorationType({ opacity: '0.45', fontStyle: 'italic' });
// The key token of a hovered cell: outlined, beside the query's fill.
const keyHighlight = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.wordHighlightStrongBackground'),
  borderColor: new vscode.ThemeColor('focusBorder'),
  borderStyle: 'dashed',
  borderWidth: '1px',
});

export class PlaygroundPanel {
  static current: PlaygroundPanel | undefined;
  /** What the panel's Generate button runs (Continue Text on the panel's text; set at activation). */
  static generate: ((options: { maxNewTokens: number; temperature: number; topK: number | null }) => Promise<unknown>) | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private readonly channel: WebviewChannel<HostMessage, WebviewMessage>;
  disposed = false;
  private runId = 0;
  /** The run the webview shows (from its stages on; its model's part added when it comes), or its refusal. */
  private last: PanelResult | undefined;
  /** The runId of `last` when it is a trace the webview shows. */
  private shownRunId = 0;
  private finished: PanelResult | undefined;
  /** The message the panel shows inline, while it shows one. */
  lastError: string | undefined;
  /** The section the shown message belongs to (a setting made invalid elsewhere breaks that stage). */
  lastErrorSection: SectionId | undefined;
  /** The newest run that has finished (trace, message or error), for tests and timing. */
  settledRunId = 0;
  private readonly rendered = new Map<number, (ms: number) => void>();
  /** The experiments the panel's sections ask of the run on show (tests read their answers). */
  readonly experiments: PanelExperiments;

  /** The editor column the panel is in, if it is open: other panels open there rather than squeeze it. */
  static get viewColumn(): vscode.ViewColumn | undefined {
    return PlaygroundPanel.current?.panel.viewColumn;
  }

  /** Opens (or reveals and updates) the panel for `source`. */
  static show(context: vscode.ExtensionContext, engine: EngineClient, source: PanelSource): PlaygroundPanel {
    if (PlaygroundPanel.current) {
      PlaygroundPanel.current.panel.reveal(undefined, true);
    } else {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'LLM 101', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: PlaygroundPanel.roots(context),
      });
      PlaygroundPanel.current = new PlaygroundPanel(panel, context, engine, source);
    }
    const current = PlaygroundPanel.current;
    void current.analyze(source);
    return current;
  }

  /** Restores a panel after a window reload (registered as the webview panel serializer). */
  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, engine: EngineClient, state: unknown): void {
    const source = isPanelState(state) ? state.source : undefined;
    panel.webview.options = { enableScripts: true, localResourceRoots: PlaygroundPanel.roots(context) };
    PlaygroundPanel.current?.dispose();
    PlaygroundPanel.current = new PlaygroundPanel(panel, context, engine, source ?? samplePoemSource(context));
    void PlaygroundPanel.current.analyze(PlaygroundPanel.current.source);
  }

  private static roots(context: vscode.ExtensionContext): vscode.Uri[] {
    return [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')];
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly engine: EngineClient,
    private source: PanelSource,
  ) {
    this.experiments = new PanelExperiments(engine, (runId) => this.traceIdFor(runId), (message) => this.post(message));
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.svg');
    panel.webview.html = this.html();
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    this.channel = new WebviewChannel(panel.webview, {
      name: 'webview', parse: parseWebviewMessage,
      receive: (message) => void this.handled(message),
    }, this.disposables);
  }

  /** The newest run that finished, its model's part included (while a newer one's model runs, its stages are shown already). */
  get lastResult(): PanelResult | undefined {
    return this.finished;
  }

  get currentSource(): PanelSource {
    return this.source;
  }

  /** Runs the engine on `source` with the current settings and posts the trace or the error. */
  async analyze(source: PanelSource): Promise<PanelResult | undefined> {
    this.source = source;
    this.highlightToken(null);
    this.panel.title = `LLM 101: ${snippet(source.title)}`;
    const runId = ++this.runId;
    // experiments of the run on show are moot once another is on its way (a scan can take seconds)
    this.experiments.cancel(true);
    const settings = readSettings(this.context.extensionPath);
    this.post({ type: 'knobs', values: knobValues(settings) });
    this.post({ type: 'busy', runId, stage: 'starting' });
    const request = { ...settings, text: source.text, ...(source.windowFrom !== undefined && { windowFrom: source.windowFrom }) };
    let shown: Extract<PanelResult, { kind: 'trace' }> | undefined;
    const current = () => runId === this.runId && !this.disposed;
    const work = this.engine.analyze(request, {
      onProgress: (stage) => this.post({ type: 'busy', runId, stage }),
      // the tokens paint at once, the stages when they are done, the model's sections after them
      onStart: (start) => {
        if (current()) this.post({ type: 'traceStart', runId, title: source.title, source: source.text, start });
      },
      onStages: ({ traceId, elapsedMs, weightsPath, panel }) => {
        if (!current()) return;
        // the run on show before is no longer asked about
        if (this.last?.kind === 'trace' && this.last.traceId !== traceId) this.engine.release(this.last.traceId);
        shown = {
          kind: 'trace', traceId, tokens: panel.tokens, config: panel.config, elapsedMs,
          ...(weightsPath !== undefined && { weightsPath }), ...(panel.window && { window: panel.window }), ...(panel.trained && { trained: panel.trained }),
        };
        this.last = shown;
        this.shownRunId = runId;
        this.lastError = undefined;
        this.shadeOutsideWindow();
        this.post({ type: 'trace', runId, title: source.title, source: source.text, trace: panel, elapsedMs, modelPending: true });
      },
    });
    // Show a cancellable notification only when the run is slow enough to notice.
    const slow = setTimeout(() => {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'LLM 101: analyzing', cancellable: true },
        (_progress, token) => {
          token.onCancellationRequested(() => this.engine.cancel());
          return work.catch(() => undefined);
        },
      );
    }, 400);
    try {
      const reply = await work;
      if (!current()) {
        // superseded: nobody will ask for it (unless its stages are on show until the newer run's come)
        if (reply.kind === 'trace' && !(this.last?.kind === 'trace' && this.last.traceId === reply.traceId)) this.engine.release(reply.traceId);
        return undefined;
      }
      if (reply.kind === 'tooManyTokens') {
        const message = `${reply.message} (setting ${SECTION}.maxTokens)`;
        this.showError(runId, message);
        void this.offerTruncation(source, message, reply.cutAt, reply.limit);
        return reply;
      }
      // The panel's messages are posted and not kept: the engine answers later requests.
      const { model, modelError } = reply;
      if (!shown) throw new Error('internal error: the engine sent no stages before the model');
      const modelInfo = model ? { config: model.config, source: model.source } : modelError !== undefined ? { error: modelError } : undefined;
      this.last = { ...shown, ...(modelInfo && { model: modelInfo }) };
      this.finished = this.last;
      this.post({ type: 'model', runId, ...(model && { model }), ...(modelError !== undefined && { modelError }) });
      return this.last;
    } catch (err) {
      if (!current()) return undefined;
      const section = err instanceof EngineError && err.setting ? SETTING_SECTIONS[err.setting] : undefined;
      this.showError(runId, err instanceof CancelledError ? 'Analysis cancelled.' : errorMessage(err), section);
      return undefined;
    } finally {
      clearTimeout(slow);
      this.settledRunId = Math.max(this.settledRunId, runId);
    }
  }

  /** Re-runs on the same text: settings changed. */
  rerun(): Promise<PanelResult | undefined> {
    return this.analyze(this.source);
  }

  reveal(section: SectionId): void {
    this.panel.reveal(undefined, false);
    this.post({ type: 'reveal', section });
  }

  /** Resolves when the webview reports that run `runId` is painted (for timing and tests). */
  whenRendered(runId = this.runId): Promise<number> {
    return new Promise((resolve) => {
      const previous = this.rendered.get(runId);
      this.rendered.set(runId, (ms) => { previous?.(ms); resolve(ms); });
    });
  }

  get currentRunId(): number {
    return this.runId;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (PlaygroundPanel.current === this) PlaygroundPanel.current = undefined;
    this.engine.cancel();
    this.experiments.cancel(true);
    if (this.last?.kind === 'trace') this.engine.release(this.last.traceId);
    for (const editor of vscode.window.visibleTextEditors) {
      for (const decoration of [highlight, keyHighlight, outsideWindow]) editor.setDecorations(decoration, []);
    }
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  private async offerTruncation(source: PanelSource, message: string, cutAt: number, limit: number): Promise<void> {
    const action = `Analyze the first ${limit} tokens`;
    const choice = await vscode.window.showWarningMessage(message, action);
    if (choice === action) await this.analyze({ ...source, text: source.text.slice(0, cutAt) });
  }

  private showError(runId: number, message: string, section?: SectionId): void {
    this.lastError = message;
    this.lastErrorSection = section;
    this.post({ type: 'error', runId, message, ...(section && { section }) });
  }

  private post(message: HostMessage): void {
    if (!this.disposed) this.channel.post(message);
  }

  /**
   * A message from the webview, checked as the channel checks what arrives (tests send the
   * webview's messages here); resolves once it is handled.
   */
  receive(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    return message && message.type !== 'ready' ? this.handled(message) : Promise.resolve();
  }

  private handled(message: Exclude<WebviewMessage, { type: 'ready' }>): Promise<void> {
    return this.handle(message).catch((err) => void vscode.window.showErrorMessage(`LLM 101: ${errorMessage(err)}`));
  }

  private async handle(message: Exclude<WebviewMessage, { type: 'ready' }>): Promise<void> {
    switch (message.type) {
      case 'setKnob': {
        // Checked before anything is written; the configuration listener re-runs the engine once it is.
        const problem = this.knobProblem(message.knob, message.value);
        if (problem) this.post({ type: 'knobRefused', knob: message.knob, value: message.value, message: problem });
        else await writeKnob(message.knob, message.value);
        return;
      }
      case 'hoverToken':
        // A hovered cell lights its query and its key token.
        this.highlightToken(message.index, message.key ?? null);
        return;
      case 'requestGroup': {
        const traceId = this.traceIdFor(message.runId);
        const answer = traceId === undefined ? null : await this.engine.group(traceId, message.group);
        if (answer && message.runId === this.runId) this.post({ type: 'group', runId: message.runId, ...answer });
        return;
      }
      case 'requestCells': {
        const traceId = this.traceIdFor(message.runId);
        if (traceId === undefined) return;
        const { paths, r0, c0, rows, cols } = message;
        const window = await this.engine.cells(traceId, { paths, r0, c0, rows, cols });
        if (window && message.runId === this.runId) this.post({ type: 'cells', runId: message.runId, paths, ...window });
        else if (!window) console.warn(`[llm101] no cells ${r0},${c0} ${rows}×${cols} of ${paths.join(', ')}`);
        return;
      }
      case 'rendered':
        this.rendered.get(message.runId)?.(message.ms);
        this.rendered.delete(message.runId);
        return;
      case 'exportPng':
        return exportPng(message.name, message.dataUrl);
      case 'exportJson':
        if (this.last?.kind === 'trace') await exportJson(this.engine, this.last.traceId);
        return;
      case 'exportCsv':
        if (this.last?.kind === 'trace') await exportCsv(this.engine, this.last.traceId, message.matrix);
        return;
      case 'requestNextToken': {
        const traceId = this.traceIdFor(message.runId);
        if (traceId === undefined) return;
        const view = await this.engine.nextToken(traceId, message.position, { temperature: message.temperature, topK: message.topK });
        if (message.runId === this.runId) this.post({ type: 'nextToken', runId: message.runId, view });
        return;
      }
      case 'experiment':
        await this.experiments.run(message);
        return;
      case 'cancelExperiment':
        this.experiments.cancel();
        return;
      case 'generate':
        await this.generateFromPanel(message);
        return;
      case 'cancelGeneration':
        this.engine.cancelGeneration();
        return;
      case 'moveWindow': {
        // the same text, its window moved (null: back to the last tokens, as generation reads them)
        const { windowFrom: _old, ...rest } = this.source;
        await this.analyze(message.from === null ? rest : { ...rest, windowFrom: message.from });
        return;
      }
      case 'log':
        if (message.level === 'error') console.error(`[llm101 webview] ${message.message}`);
        else console.log(`[llm101 webview] ${message.message}`);
        return;
    }
  }

  /** Generation into the editor started from the panel, or by the command: the panel shows it. */
  postGeneration(update: { state: 'running' | 'done' | 'cancelled' | 'error'; text: string; tokens: number; message?: string }): void {
    this.post({ type: 'generation', ...update });
  }

  /** The Generate button: select the analyzed text in its editor and continue it there. */
  private async generateFromPanel(options: { maxNewTokens: number; temperature: number; topK: number | null }): Promise<void> {
    const { uri, offset, text } = this.source;
    if (!uri || offset === undefined) {
      this.postGeneration({ state: 'error', text: '', tokens: 0, message: 'This text is not in an editor: select text in a file and run Analyze Selection, then Generate.' });
      return;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset + text.length));
    await PlaygroundPanel.generate?.(options);
  }

  /** The engine's trace id for the panel's run `runId`, while it is the newest and its stages are shown. */
  private traceIdFor(runId: number): number | undefined {
    return runId === this.runId && this.shownRunId === runId && this.last?.kind === 'trace' ? this.last.traceId : undefined;
  }

  /**
   * Why a knob's value may not be written: the panel's own check (src/shared/knobs.ts), made again
   * here with the sizes in use (a checkpoint's dim, once it has been read).
   */
  knobProblem(knob: Knob, value: unknown): string | undefined {
    const settings = readSettings(this.context.extensionPath);
    // with a checkpoint its dim is the file's (known once read), and the dim knob does not change it
    const fromFile = settings.weightsPath !== undefined;
    const modelDim = this.last?.kind === 'trace' ? this.last.config.dim : undefined;
    return knobProblem(knob, value, { heads: settings.heads, dim: fromFile ? modelDim : settings.dim, fromFile });
  }

  // The query token (and the key token of a hovered
  // cell) lit in the editor, which scrolls to the query when it is out of view.
  private highlightToken(index: number | null, key: number | null = null): void {
    for (const editor of vscode.window.visibleTextEditors) {
      editor.setDecorations(highlight, []);
      editor.setDecorations(keyHighlight, []);
    }
    const { uri, offset } = this.source;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
    if (!editor || offset === undefined || this.last?.kind !== 'trace') return;
    const doc = editor.document;
    const tokens = this.last.tokens;
    const rangeOf = (i: number | null) => {
      const token = i === null ? undefined : tokens[i];
      return token && new vscode.Range(doc.positionAt(offset + token.start), doc.positionAt(offset + token.end));
    };
    const query = rangeOf(index);
    const keyRange = key === index ? undefined : rangeOf(key);
    editor.setDecorations(highlight, query ? [query] : []);
    editor.setDecorations(keyHighlight, keyRange ? [keyRange] : []);
    if (query) editor.revealRange(query, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  /**
   * Fades the text before and after the context window in the editor the text came from, with a
   * hover that says why the model does not read it; clears the fading when the whole text fits.
   */
  private shadeOutsideWindow(): void {
    const { uri, offset, text } = this.source;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
    if (!editor) return;
    const result = this.last;
    const window = result?.kind === 'trace' ? result.window : undefined;
    const first = result?.kind === 'trace' ? result.tokens[0] : undefined;
    const lastToken = result?.kind === 'trace' ? result.tokens.at(-1) : undefined;
    if (!window || offset === undefined || !first || !lastToken || result?.kind !== 'trace') {
      editor.setDecorations(outsideWindow, []);
      return;
    }
    const doc = editor.document;
    const hoverMessage = new vscode.MarkdownString(`**LLM 101**: outside the model's context window. ${windowExplanation(window, result.config.contextLength)}`);
    const spans: [number, number][] = [[0, first.start], [lastToken.end, text.length]];
    editor.setDecorations(outsideWindow, spans.filter(([a, b]) => b > a).map(([a, b]) => ({
      range: new vscode.Range(doc.positionAt(offset + a), doc.positionAt(offset + b)), hoverMessage,
    })));
  }

  private html(): string {
    return webviewHtml(this.panel.webview, this.context.extensionUri, {
      title: 'LLM 101 Playground', styles: ['panel.css'], script: 'webview.js',
      body: '<div id="app" data-state="loading"><p class="placeholder">Loading the playground…</p></div>',
    });
  }
}

export function isPanelState(value: unknown): value is PanelState {
  if (typeof value !== 'object' || value === null) return false;
  const source = (value as { source?: unknown }).source;
  return typeof source === 'object' && source !== null && typeof (source as PanelSource).text === 'string'
    && typeof (source as PanelSource).title === 'string';
}

/** The first poem's first stanza: what "Open Playground" shows. */
export function samplePoemSource(context: vscode.ExtensionContext): PanelSource {
  return { text: readSamplePoem(context.extensionPath), title: 'sample poem' };
}

function readSamplePoem(extensionPath: string): string {
  const dir = path.join(extensionPath, 'media', 'corpus');
  try {
    const first = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()[0];
    if (first) {
      const lines = fs.readFileSync(path.join(dir, first), 'utf8').split('\n').slice(2);
      const stanza = lines.slice(0, Math.max(1, lines.indexOf(''))).join('\n').trim();
      if (stanza) return stanza;
    }
  } catch {
    // fall through to the built-in line
  }
  return 'Your journey starts with one step';
}

export function snippet(text: string, max = 24): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** An error for the panel; an EngineError that names a setting gets it, as the Settings UI spells it. */
export function errorMessage(err: unknown): string {
  if (err instanceof EngineError && err.setting !== undefined) return `${err.message} (setting ${SECTION}.${err.setting})`;
  return err instanceof Error ? err.message : String(err);
}
