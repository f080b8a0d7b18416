// The training panel: one WebviewPanel that shows the newest training run (loss curves, samples,
// the attention timelapse) and sends Pause, Resume and Stop back. The host keeps the run as the
// panel does (src/shared/trainingRun.ts: bounded however many steps), so a panel that is closed
// and opened again, or reloaded, draws the whole run so far from a few messages.
import * as vscode from 'vscode';
import { PlaygroundPanel } from './PlaygroundPanel';
import { webviewHtml } from './webviewHtml';
import { WebviewChannel } from './webviewChannel';
import {
  parseTrainingWebviewMessage, type TrainEnd, type TrainEvent, type TrainingHostMessage, type TrainingWebviewMessage,
} from '../shared/trainingProtocol';
import { apply, replayMessages, type RunState } from '../shared/trainingRun';

export const TRAINING_VIEW_TYPE = 'llm101.training';

/** What the panel's buttons do to the run it shows. */
export interface TrainingControls {
  pause(): void;
  resume(): void;
  stop(): void;
  analyzeWithModel(): void;
}

export class TrainingPanel {
  static current: TrainingPanel | undefined;
  /** Analyze with the newest run's checkpoint (set when a run starts; works after it ended too). */
  private static lastFile: (() => void) | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private readonly channel: WebviewChannel<TrainingHostMessage, TrainingWebviewMessage>;
  private disposed = false;
  /**
   * The newest run so far, replayed when a webview (re)loads: kept by the class, not the panel,
   * so a panel closed during or after a run and opened again shows the whole run.
   */
  private static run: RunState | undefined;
  private static controls: TrainingControls | undefined;
  private static runId = 0;

  static show(context: vscode.ExtensionContext): TrainingPanel {
    if (TrainingPanel.current && !TrainingPanel.current.disposed) {
      TrainingPanel.current.panel.reveal(undefined, true);
      return TrainingPanel.current;
    }
    // In the playground's column when it is open (a third column would squeeze it below a readable width).
    const panel = vscode.window.createWebviewPanel(TRAINING_VIEW_TYPE, 'LLM 101: Training', { viewColumn: PlaygroundPanel.viewColumn ?? vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    TrainingPanel.current = new TrainingPanel(panel, context);
    return TrainingPanel.current;
  }

  private constructor(readonly panel: vscode.WebviewPanel, private readonly context: vscode.ExtensionContext) {
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.svg');
    panel.webview.html = this.html();
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    // A (re)loading webview is sent the whole run so far: the run is kept here, not queued.
    this.channel = new WebviewChannel(panel.webview, {
      name: 'training panel', parse: parseTrainingWebviewMessage, receive: (message) => this.handle(message), replay: () => this.messages,
    }, this.disposables);
  }

  /** A new run: the panel forgets the previous one and shows this one from its start. */
  start(name: string, corpus: string, preset: string, controls: TrainingControls): number {
    const runId = ++TrainingPanel.runId;
    TrainingPanel.controls = controls;
    TrainingPanel.lastFile = () => controls.analyzeWithModel();
    TrainingPanel.run = undefined;
    TrainingPanel.record({ type: 'start', runId, name, corpus, preset });
    this.panel.title = `LLM 101: Training ${name}`;
    return runId;
  }

  /** Events of the newest run reach the panel that is open now (or the next one opened). */
  static event(event: TrainEvent): void {
    TrainingPanel.record({ type: 'event', runId: TrainingPanel.runId, event });
  }

  static end(end: TrainEnd): void {
    TrainingPanel.record({ type: 'end', runId: TrainingPanel.runId, end });
    TrainingPanel.controls = undefined;
  }

  /** The newest run as the panel knows it (for tests). */
  get run(): RunState | undefined {
    return TrainingPanel.run;
  }

  /** What a (re)loading panel is sent to draw the newest run (for tests). */
  get messages(): readonly TrainingHostMessage[] {
    return TrainingPanel.run ? replayMessages(TrainingPanel.run) : [];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (TrainingPanel.current === this) TrainingPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  private static record(message: TrainingHostMessage): void {
    TrainingPanel.run = apply(TrainingPanel.run, message).run;
    const open = TrainingPanel.current;
    if (open && !open.disposed) open.channel.post(message);
  }

  private handle(message: Exclude<TrainingWebviewMessage, { type: 'ready' }>): void {
    switch (message.type) {
      case 'pause':
        TrainingPanel.controls?.pause();
        return;
      case 'resume':
        TrainingPanel.controls?.resume();
        return;
      case 'stop':
        TrainingPanel.controls?.stop();
        return;
      case 'analyzeWithModel':
        TrainingPanel.lastFile?.();
        return;
      case 'log':
        if (message.level === 'error') console.error(`[llm101 training webview] ${message.message}`);
        else console.log(`[llm101 training webview] ${message.message}`);
        return;
    }
  }

  private html(): string {
    return webviewHtml(this.panel.webview, this.context.extensionUri, {
      title: 'LLM 101 Training', styles: ['panel.css', 'training.css'], script: 'training.js',
      body: '<div id="training" data-state="waiting"><p class="placeholder">Waiting for a training run…</p></div>',
    });
  }
}
