// The training panel: one WebviewPanel that shows the newest training run (loss curves, samples,
// the attention timelapse) and sends Pause, Resume and Stop back. The host keeps the run's events
// (they are small: numbers, sample lines and 24×24 thumbnails), so a panel that is closed and
// opened again, or reloaded, draws the whole run so far.
import * as vscode from 'vscode';
import { webviewHtml } from './webviewHtml';
import {
  parseTrainingWebviewMessage, type TrainEnd, type TrainEvent, type TrainingHostMessage, type TrainingWebviewMessage,
} from '../shared/trainingProtocol';

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

  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private disposed = false;
  /** The run's messages so far, replayed when the webview (re)loads. */
  private log: TrainingHostMessage[] = [];
  private controls: TrainingControls | undefined;
  private runId = 0;

  static show(context: vscode.ExtensionContext): TrainingPanel {
    if (TrainingPanel.current && !TrainingPanel.current.disposed) {
      TrainingPanel.current.panel.reveal(undefined, true);
      return TrainingPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(TRAINING_VIEW_TYPE, 'LLM 101: Training', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
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
    panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw), null, this.disposables);
  }

  /** A new run: the panel forgets the previous one and shows this one from its start. */
  start(name: string, corpus: string, preset: string, controls: TrainingControls): number {
    this.runId++;
    this.controls = controls;
    this.log = [];
    this.post({ type: 'start', runId: this.runId, name, corpus, preset });
    this.panel.title = `LLM 101: Training ${name}`;
    return this.runId;
  }

  event(event: TrainEvent): void {
    this.post({ type: 'event', runId: this.runId, event });
  }

  end(end: TrainEnd): void {
    this.post({ type: 'end', runId: this.runId, end });
  }

  /** The messages posted for the current run (for tests). */
  get messages(): readonly TrainingHostMessage[] {
    return this.log;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (TrainingPanel.current === this) TrainingPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  private post(message: TrainingHostMessage): void {
    this.log.push(message);
    if (this.ready && !this.disposed) void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    const message = parseTrainingWebviewMessage(raw);
    if (!message) {
      console.warn('[llm101] ignored a malformed message from the training panel', raw);
      return;
    }
    this.handle(message);
  }

  private handle(message: TrainingWebviewMessage): void {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        for (const logged of this.log) void this.panel.webview.postMessage(logged);
        return;
      case 'pause':
        this.controls?.pause();
        return;
      case 'resume':
        this.controls?.resume();
        return;
      case 'stop':
        this.controls?.stop();
        return;
      case 'analyzeWithModel':
        this.controls?.analyzeWithModel();
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
