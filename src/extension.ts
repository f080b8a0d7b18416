// Activation is a list of registrations; each command is a small function elsewhere.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { EngineClient } from './host/engineClient';
import { PlaygroundPanel, VIEW_TYPE } from './panels/PlaygroundPanel';
import { analyzeSelection, openPlayground } from './commands/analyze';
import { continueText, type ContinueOptions } from './commands/generate';
import { loadModel } from './commands/loadModel';
import { downloadModel, isDownloadOptions } from './commands/download';
import { stopTraining, trainModel, type TrainOptions } from './commands/train';
import { TrainingPanel } from './panels/TrainingPanel';
import { SECTION } from './settings';
import { TokenFeatures } from './editor/tokens';
import { ComparePanel, compareWith, isOtherModel } from './commands/compare';

export interface Llm101Api {
  /** The open panel, for tests and other extensions. */
  panel(): PlaygroundPanel | undefined;
  /** The status-bar count and token boundaries. */
  tokens: TokenFeatures;
  /** The engine process's client (it starts the process when first asked). */
  engine: EngineClient;
  /** The training panel, while open. */
  trainingPanel(): TrainingPanel | undefined;
  /** Stops the training run in progress (it saves what it learned). */
  stopTraining(): void;
  /** The compare view, while open. */
  comparePanel(): ComparePanel | undefined;
}

export function activate(context: vscode.ExtensionContext): Llm101Api {
  const bpeCache = path.join(context.globalStorageUri.fsPath, 'bpe');
  const engine = new EngineClient(path.join(context.extensionPath, 'dist'), bpeCache, () => vscode.workspace.getConfiguration(SECTION).get<number>('threads', 0));
  windowEngine = engine;
  // One engine process per window; it serves the panel and the status bar's count.
  const tokens = new TokenFeatures(context, engine);
  context.subscriptions.push({ dispose: () => engine.dispose() }, tokens);

  const commands: Record<string, (...args: unknown[]) => unknown> = {
    'llm101.analyzeSelection': () => analyzeSelection(context, engine),
    'llm101.openPlayground': (section?: unknown) => openPlayground(context, engine, section),
    'llm101.showTokenBoundaries': () => tokens.toggleBoundaries(),
    'llm101.pickTokenizer': () => tokens.pickTokenizer(),
    'llm101.continueText': (options?: unknown) => continueText(engine, context.extensionPath, isContinueOptions(options) ? options : {}),
    'llm101.loadModel': () => loadModel(context),
    'llm101.downloadModel': (options?: unknown) => downloadModel(context, isDownloadOptions(options) ? options : {}),
    'llm101.trainModel': (options?: unknown) => trainModel(context, engine, isTrainOptions(options) ? options : {}),
    'llm101.showTraining': () => TrainingPanel.show(context),
    'llm101.compareWith': (other?: unknown) => compareWith(context, engine, isOtherModel(other) ? other : undefined),
  };
  PlaygroundPanel.generate = (options) => continueText(engine, context.extensionPath, options);
  for (const [id, run] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  }

  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => PlaygroundPanel.revive(panel, context, engine, state),
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) void PlaygroundPanel.current?.rerun();
    }),
  );
  return {
    panel: () => PlaygroundPanel.current, tokens, engine, trainingPanel: () => TrainingPanel.current, stopTraining,
    comparePanel: () => ComparePanel.current,
  };
}

/** The engine of this window, for deactivate. */
let windowEngine: EngineClient | undefined;

/** Closing the window: a training run saves its checkpoint before the engine ends (VS Code waits for this). */
export function deactivate(): Promise<void> | undefined {
  TrainingPanel.current?.dispose();
  ComparePanel.current?.dispose();
  PlaygroundPanel.current?.dispose();
  return windowEngine?.shutdown();
}

/** Options a caller (a test, a keybinding's args) may pass to Train Model to skip its questions. */
function isTrainOptions(value: unknown): value is TrainOptions {
  if (typeof value !== 'object' || value === null) return false;
  const { preset, corpusPaths, name, steps } = value as Record<string, unknown>;
  return (preset === undefined || preset === 'tiny' || preset === 'small' || preset === 'custom')
    && (corpusPaths === undefined || (Array.isArray(corpusPaths) && corpusPaths.every((p) => typeof p === 'string')))
    && (name === undefined || typeof name === 'string') && (steps === undefined || (typeof steps === 'number' && Number.isInteger(steps) && steps >= 1));
}

/** Options a caller (the panel, a test, a keybinding's args) may pass to Continue Text. */
function isContinueOptions(value: unknown): value is ContinueOptions {
  if (typeof value !== 'object' || value === null) return false;
  const { maxNewTokens, temperature, topK } = value as Record<string, unknown>;
  const whole = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 1);
  return whole(maxNewTokens) && (temperature === undefined || (typeof temperature === 'number' && temperature >= 0)) && (topK === null || whole(topK));
}
