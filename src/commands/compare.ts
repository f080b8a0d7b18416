// "Compare with…": the playground's model (A) and a second model (B) on the same text, side by
// side in their own panel. B is seeded with A's sizes (step 0 beside step N), the bundled model,
// a checkpoint a training run saved in the workspace, or any checkpoint file or folder.
import * as vscode from 'vscode';
import * as v from 'valibot';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EngineClient } from '../host/engineClient';
import { PlaygroundPanel, errorMessage, samplePoemSource, snippet, type PanelSource } from '../panels/PlaygroundPanel';
import { webviewHtml } from '../panels/webviewHtml';
import { WebviewChannel } from '../panels/webviewChannel';
import { readSettings, type PlaygroundSettings } from '../settings';
import { CancelledError } from '../engine/config';
import { weightsLayoutOf } from '../engine/io/gptCheckpoint';
import { parseCompareWebviewMessage, type CompareHostMessage, type CompareView, type CompareWebviewMessage } from '../shared/compareProtocol';
import { editorForCommand, sourceFromEditor } from './analyze';
import { BUNDLED_MODELS, bundledModelPath } from '../bundledModels';
import { index, text } from '../shared/wire';

export const COMPARE_VIEW_TYPE = 'llm101.compare';

/**
 * The second model: how the engine request for it differs from the playground's, and its name.
 * Also what a caller (a test, a keybinding's args) may pass to Compare with… to skip its questions.
 */
const OtherModelSchema = v.object({
  label: text(500),
  /** A checkpoint (file or folder); absent: seeded. */
  weightsPath: v.optional(text(4096)),
  /** The seed of a seeded B. */
  seed: v.optional(index),
});
export type OtherModel = v.InferOutput<typeof OtherModelSchema>;
export const isOtherModel = (value: unknown): value is OtherModel => v.is(OtherModelSchema, value);

/** A checkpoint's training step, from the __metadata__ our training writes ('llm101.step'), if it says. */
function savedStep(file: string): string | undefined {
  try {
    return weightsLayoutOf(file).metadata['llm101.step'];
  } catch {
    return undefined;
  }
}

/** Checkpoints training runs saved in the workspace (.llm101/models/*.safetensors), newest first. */
function savedCheckpoints(): { file: string; mtime: number }[] {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder?.uri.scheme !== 'file') return [];
  const dir = path.join(folder.uri.fsPath, '.llm101', 'models');
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'))
      .map((f) => ({ file: path.join(dir, f), mtime: fs.statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
  } catch {
    return [];
  }
}

/** Asks which model B is; undefined when the learner backs out. */
export async function pickOtherModel(extensionPath: string, current: PlaygroundSettings): Promise<OtherModel | undefined> {
  type Item = vscode.QuickPickItem & { pick: () => Promise<OtherModel | undefined> };
  const sameFile = (file: string) => current.weightsPath !== undefined && path.resolve(current.weightsPath) === path.resolve(file);
  const items: Item[] = [
    {
      label: '$(beaker) Seeded, untrained', description: current.weightsPath ? 'A\'s sizes' : 'another seed',
      detail: 'random weights of the same shapes: what training changed (step 0 beside step N), or what another seed gives',
      pick: async () => {
        const answer = await vscode.window.showInputBox({
          title: 'LLM 101: Compare with a seeded model', prompt: 'The seed of the untrained weights (torch.manual_seed)',
          value: String(current.weightsPath ? current.seed : current.seed + 1),
          validateInput: (v) => (/^\d{1,9}$/.test(v.trim()) ? undefined : 'a whole number >= 0, e.g. 7'),
        });
        if (answer === undefined) return undefined;
        const seed = Number(answer.trim());
        return { label: `seeded ${seed} (untrained)`, seed };
      },
    },
    ...BUNDLED_MODELS.map((model) => ({ model, file: bundledModelPath(extensionPath, model) }))
      .filter(({ file }) => fs.existsSync(file) && !sameFile(file))
      .map(({ model, file }): Item => ({ label: `$(package) ${model.label}`, detail: model.detail, pick: async () => ({ label: model.label, weightsPath: file }) })),
    ...savedCheckpoints().filter((c) => !sameFile(c.file)).map(({ file }): Item => {
      const step = savedStep(file);
      return {
        label: `$(history) ${path.basename(file, '.safetensors')}`, description: step !== undefined ? `step ${step}` : undefined,
        detail: `saved by a training run: ${vscode.workspace.asRelativePath(file)}`,
        pick: async () => ({ label: `${path.basename(file)}${step !== undefined ? ` (step ${step})` : ''}`, weightsPath: file }),
      };
    }),
    {
      label: '$(folder-opened) A checkpoint file or folder…', detail: 'the book\'s GPTModel (.safetensors), a Hugging Face GPT-2 folder, or a model trained here',
      pick: async () => {
        const picked = await vscode.window.showOpenDialog({
          title: 'LLM 101: Compare with (a .safetensors checkpoint, or a folder with model.safetensors and config.json)',
          canSelectFiles: true, canSelectFolders: true, canSelectMany: false, filters: { 'safetensors checkpoints': ['safetensors'] }, openLabel: 'Compare',
        });
        const target = picked?.[0];
        return target ? { label: path.basename(target.fsPath), weightsPath: target.fsPath } : undefined;
      },
    },
  ];
  const choice = await vscode.window.showQuickPick(items, {
    title: 'LLM 101: Compare with…', placeHolder: `Model B, beside the playground's model A (${current.weightsPath ? path.basename(current.weightsPath) : `seeded ${current.seed}`})`,
  });
  return choice?.pick();
}

/**
 * The engine request for B: the playground's, with B's weights. A seeded B takes the sizes of the
 * model A ran with (a checkpoint's, when A is one), so the shapes agree and every map has a difference.
 */
export function otherRequest(settings: PlaygroundSettings, other: OtherModel, sizesOfA?: { dim: number; heads: number; layers: number; contextLength: number; tokenizer: string }): PlaygroundSettings {
  const { weightsPath: _a, ...rest } = settings;
  if (other.weightsPath !== undefined) return { ...rest, weightsPath: other.weightsPath, tokenizerExplicit: false };
  const sized = sizesOfA && settings.weightsPath
    ? { dim: sizesOfA.dim, heads: sizesOfA.heads, layers: sizesOfA.layers, contextLength: sizesOfA.contextLength, tokenizer: sizesOfA.tokenizer as PlaygroundSettings['tokenizer'] }
    : {};
  return { ...rest, ...sized, seed: other.seed ?? settings.seed };
}

/** The text both models read: the playground's, else the editor's selection, else the sample poem. */
function compareSource(context: vscode.ExtensionContext): PanelSource {
  const shown = PlaygroundPanel.current?.currentSource;
  if (shown) return shown;
  const editor = editorForCommand();
  const fromEditor = editor ? sourceFromEditor(editor) : undefined;
  return fromEditor && typeof fromEditor !== 'string' ? fromEditor : samplePoemSource(context);
}

/** The compare view: one panel, the newest comparison. */
export class ComparePanel {
  static current: ComparePanel | undefined;
  private readonly channel: WebviewChannel<CompareHostMessage, CompareWebviewMessage>;
  private runId = 0;
  private readonly disposables: vscode.Disposable[] = [];
  disposed = false;
  /** The newest comparison shown, or the message shown instead (for tests). */
  lastView: CompareView | undefined;
  lastError: string | undefined;
  settledRunId = 0;

  private constructor(readonly panel: vscode.WebviewPanel, private readonly context: vscode.ExtensionContext, private readonly engine: EngineClient) {
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, {
      title: 'LLM 101 Compare', styles: ['panel.css', 'compare.css'], script: 'compare.js',
      body: '<div id="app" data-state="loading"><p class="placeholder">Loading the comparison…</p></div>',
    });
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    this.channel = new WebviewChannel(panel.webview, { name: 'compare view', parse: parseCompareWebviewMessage, receive: (message) => this.receive(message) }, this.disposables);
  }

  static open(context: vscode.ExtensionContext, engine: EngineClient): ComparePanel {
    if (ComparePanel.current) {
      ComparePanel.current.panel.reveal(undefined, true);
      return ComparePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, 'LLM 101: Compare', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true, retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    ComparePanel.current = new ComparePanel(panel, context, engine);
    return ComparePanel.current;
  }

  get currentRunId(): number {
    return this.runId;
  }

  /** Runs A (the playground's settings) and B on `source` and shows them side by side. */
  async compare(source: PanelSource, other: OtherModel): Promise<CompareView | undefined> {
    const runId = ++this.runId;
    const settings = readSettings(this.context.extensionPath);
    const shown = PlaygroundPanel.current?.lastResult;
    const modelA = shown?.kind === 'trace' && shown.model && 'config' in shown.model ? shown.model.config : undefined;
    const sizesOfA = modelA && shown?.kind === 'trace' ? { ...modelA, tokenizer: shown.config.tokenizer } : undefined;
    const request = { ...settings, text: source.text, ...(source.windowFrom !== undefined && { windowFrom: source.windowFrom }) };
    const otherSettings = { ...otherRequest(settings, other, sizesOfA), text: source.text };
    const nameA = settings.weightsPath ? path.basename(settings.weightsPath) : `seeded ${settings.seed} (untrained)`;
    const labels = { a: `A · the playground's model: ${nameA}`, b: `B · ${other.label}` };
    this.panel.title = `LLM 101: Compare · ${snippet(source.title, 18)}`;
    this.post({ type: 'busy', stage: 'starting' });
    const started = performance.now();
    try {
      const view = await this.engine.compare(request, otherSettings, labels, (stage) => this.post({ type: 'busy', stage }));
      if (runId !== this.runId || this.disposed) return undefined;
      this.lastView = view;
      this.lastError = undefined;
      this.post({ type: 'compare', title: snippet(source.title, 120), view, elapsedMs: performance.now() - started });
      return view;
    } catch (err) {
      if (runId !== this.runId || this.disposed) return undefined;
      this.lastError = err instanceof CancelledError ? 'Comparison cancelled.' : errorMessage(err);
      this.post({ type: 'error', message: this.lastError });
      return undefined;
    } finally {
      this.settledRunId = Math.max(this.settledRunId, runId);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ComparePanel.current === this) ComparePanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  private post(message: CompareHostMessage): void {
    if (!this.disposed) this.channel.post(message);
  }

  private receive(message: Exclude<CompareWebviewMessage, { type: 'ready' }>): void {
    switch (message.type) {
      case 'pickOther':
        void compareWith(this.context, this.engine);
        return;
      case 'log':
        if (message.level === 'error') console.error(`[llm101 compare] ${message.message}`);
        else console.log(`[llm101 compare] ${message.message}`);
    }
  }
}

/**
 * The command: picks model B (unless `other` is given: tests, keybindings) and shows A and B on
 * the playground's text.
 */
export async function compareWith(context: vscode.ExtensionContext, engine: EngineClient, other?: OtherModel): Promise<ComparePanel | undefined> {
  const source = compareSource(context);
  const picked = other ?? await pickOtherModel(context.extensionPath, readSettings(context.extensionPath));
  if (!picked) return undefined;
  const panel = ComparePanel.open(context, engine);
  void panel.compare(source, picked).catch((err) => void vscode.window.showErrorMessage(`LLM 101: ${errorMessage(err)}`));
  return panel;
}
