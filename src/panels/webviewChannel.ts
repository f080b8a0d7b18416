// The host's side of one webview's messages, the same for every panel (playground, compare,
// training): what the webview sends is checked against its contract's schema before a handler
// sees it, and what the host posts before the webview has said 'ready' waits for it (a webview
// that is still loading drops messages).
import type * as vscode from 'vscode';

/** What the channel needs of a vscode.Webview. */
export type WebviewPort = Pick<vscode.Webview, 'postMessage' | 'onDidReceiveMessage'>;

export interface ChannelOptions<Out, In extends { type: string }> {
  /** The panel's name in the log line of a malformed message: "compare view". */
  name: string;
  /** The contract's check of what the webview sends (undefined: malformed, ignored). */
  parse: (raw: unknown) => In | undefined;
  /** Every well-formed message but 'ready', which the channel answers itself. */
  receive: (message: Exclude<In, { type: 'ready' }>) => void;
  /**
   * What a webview that says 'ready' is sent: the whole state of the panel, for a panel that keeps
   * it (training replays its run). Without it, the newest message of each type posted before
   * 'ready' is sent: the only one of that type that still matters.
   */
  replay?: () => readonly Out[];
}

export class WebviewChannel<Out extends { type: string }, In extends { type: string }> {
  private isReady = false;
  private queue: Out[] = [];
  private closed = false;

  constructor(private readonly webview: WebviewPort, private readonly options: ChannelOptions<Out, In>, disposables: vscode.Disposable[]) {
    disposables.push(webview.onDidReceiveMessage((raw: unknown) => this.take(raw)), { dispose: () => this.close() });
  }

  /** The webview has said 'ready' (and has been sent what waited for it). */
  get ready(): boolean {
    return this.isReady;
  }

  /** Sends `message` now, or when the webview is ready (with a replay: the replay stands for it). */
  post(message: Out): void {
    if (this.closed) return;
    if (this.isReady) {
      void this.webview.postMessage(message);
    } else if (!this.options.replay) {
      this.queue = this.queue.filter((m) => m.type !== message.type);
      this.queue.push(message);
    }
  }

  /** No more messages either way (the panel is disposed). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private take(raw: unknown): void {
    if (this.closed) return;
    const message = this.options.parse(raw);
    if (!message) {
      console.warn(`[llm101] ignored a malformed message from the ${this.options.name}`, raw);
      return;
    }
    if (message.type !== 'ready') {
      this.options.receive(message as Exclude<In, { type: 'ready' }>);
      return;
    }
    this.isReady = true;
    const waiting = this.options.replay ? this.options.replay() : this.queue.splice(0);
    for (const queued of waiting) void this.webview.postMessage(queued);
  }
}
