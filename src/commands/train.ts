// "LLM 101: Train Model": pick a corpus and a preset, train in the engine process's training
// thread while the training panel draws it, keep the checkpoint (also on Stop or Cancel) and
// make it the model of the playground.
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EngineClient } from '../host/engineClient';
import { TrainingPanel } from '../panels/TrainingPanel';
import { PlaygroundPanel } from '../panels/PlaygroundPanel';
import { readSettings, SECTION } from '../settings';
import type { TrainEvent, TrainJob } from '../shared/engineProtocol';
import type { TrainEnd } from '../shared/trainingProtocol';
import { analyzeSelection } from './analyze';
import { TASK_LABELS, type TrainTask } from '../engine/types';
import { bundledCorpusDetail } from './bundledCorpus';

/** The sizes and schedule of a preset; `custom` reads the settings. */
export interface TrainPreset {
  id: 'tiny' | 'small' | 'custom' | 'copying';
  label: string;
  detail: string;
  job: Pick<TrainJob, 'dim' | 'heads' | 'layers' | 'contextLength' | 'batchSize' | 'steps' | 'lr' | 'evalEvery' | 'sampleEvery' | 'frameEvery'>
    & Partial<Pick<TrainJob, 'dropout' | 'warmupSteps' | 'validationFraction' | 'tokenizer'>>;
}

export const PRESETS: readonly TrainPreset[] = [
  {
    id: 'tiny', label: 'Tiny', detail: 'seconds: 1 block, dim 32, 2 heads, context 32, 150 steps',
    job: { dim: 32, heads: 2, layers: 1, contextLength: 32, batchSize: 8, steps: 150, lr: 5e-3, evalEvery: 25, sampleEvery: 50, frameEvery: 15 },
  },
  {
    id: 'small', label: 'Small', detail: 'about 2 minutes: 2 blocks, dim 64, 4 heads, context 64, 2,000 steps',
    job: { dim: 64, heads: 4, layers: 2, contextLength: 64, batchSize: 8, steps: 2000, lr: 3e-3, evalEvery: 100, sampleEvery: 200, frameEvery: 100 },
  },
];

/**
 * The copying task's own recipe, the bundled copying model's (scripts/train-sample.mjs): one head a
 * block, so block 1's previous-token head and block 2's induction head each have a name, and a
 * timelapse frame every 50 steps, so the frames catch each head forming (steps 300-1,000).
 */
export const COPYING_PRESET: TrainPreset = {
  id: 'copying', label: 'Copying task',
  detail: 'about 2 minutes: 2 blocks, dim 64, 1 head each, context 64, 3,000 steps; watch an induction head form',
  job: {
    dim: 64, heads: 1, layers: 2, contextLength: 64, batchSize: 16, steps: 3000, lr: 2e-3, warmupSteps: 200, dropout: 0,
    validationFraction: 0.01, tokenizer: 'word', evalEvery: 100, sampleEvery: 250, frameEvery: 50,
  },
};

/** The custom preset: the model sizes of the settings (dim, heads, layers) and llm101.train.*. */
function customPreset(extensionPath: string): TrainPreset {
  const settings = readSettings(extensionPath);
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const steps = cfg.get<number>('train.steps', 1000);
  const every = Math.max(1, Math.round(steps / 20));
  const job = {
    dim: settings.dim, heads: settings.heads, layers: settings.layers,
    contextLength: cfg.get<number>('train.contextLength', 64), batchSize: cfg.get<number>('train.batchSize', 8),
    steps, lr: cfg.get<number>('train.learningRate', 1e-3), evalEvery: every, sampleEvery: every * 2, frameEvery: every,
  };
  return {
    id: 'custom', label: 'Custom',
    detail: `the settings: ${job.layers} blocks, dim ${job.dim}, ${job.heads} heads, context ${job.contextLength}, ${steps} steps (llm101.dim, heads, layers, train.*)`,
    job,
  };
}

interface CorpusChoice {
  paths: string[];
  label: string;
  /** A corpus the engine generates (its preset is the task's own). */
  task?: TrainTask;
}

/** Files of the workspace matching a glob, with their count and an estimate of their tokens. */
async function workspaceCorpus(): Promise<CorpusChoice | undefined> {
  const glob = await vscode.window.showInputBox({
    title: 'LLM 101: Train Model on this workspace',
    prompt: 'Which files? A glob pattern, relative to the workspace',
    value: '**/*.{txt,md}',
    validateInput: (v) => (v.trim() ? undefined : 'Give a pattern, e.g. **/*.md'),
  });
  if (!glob) return undefined;
  const uris = (await vscode.workspace.findFiles(glob.trim(), '{**/node_modules/**,**/.git/**,**/.llm101/**,**/.vscode-test/**}', 5000))
    .filter((u) => u.scheme === 'file');
  if (uris.length === 0) {
    void vscode.window.showWarningMessage(`LLM 101: no files match ${glob} in this workspace. Try another pattern, or pick a file or folder.`);
    return undefined;
  }
  let bytes = 0;
  let words = 0;
  for (const uri of uris) {
    try {
      const text = fs.readFileSync(uri.fsPath, 'utf8');
      bytes += Buffer.byteLength(text);
      words += text.split(/\s+/).filter(Boolean).length;
    } catch {
      // unreadable files are reported by the engine when it reads the corpus
    }
  }
  const files = uris.map((u) => u.fsPath).sort();
  const go = `Train on ${files.length.toLocaleString('en-US')} files`;
  const choice = await vscode.window.showInformationMessage(
    `LLM 101: ${files.length.toLocaleString('en-US')} files match ${glob}: ${(bytes / 1024).toFixed(0)} KB, about ${words.toLocaleString('en-US')} word tokens.`,
    { modal: true }, go,
  );
  return choice === go ? { paths: files, label: `${files.length} workspace files (${glob})` } : undefined;
}

async function pickCorpus(extensionPath: string): Promise<CorpusChoice | undefined> {
  const corpusDir = path.join(extensionPath, 'media', 'corpus');
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  const items: (vscode.QuickPickItem & { id: string })[] = [
    { id: 'poems', label: 'Bundled poems', detail: bundledCorpusDetail(corpusDir, folders) },
    { id: 'file', label: 'A file or folder…', detail: 'a .txt file, or a folder of .txt files' },
    { id: 'copying', label: 'Copying task (generated)', detail: 'random words, each line written 2–3 times: watch a previous-token head, then an induction head, form' },
    { id: 'workspace', label: 'This workspace’s text files', detail: 'files matching a pattern, e.g. **/*.md', ...(!vscode.workspace.workspaceFolders?.length && { description: '(no folder open)' }) },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'LLM 101: Train Model (1/2): the corpus', placeHolder: 'What should the model learn from?' });
  if (!picked) return undefined;
  if (picked.id === 'poems') return { paths: [corpusDir], label: 'the bundled poems' };
  if (picked.id === 'copying') return { paths: [], label: TASK_LABELS.copying, task: 'copying' };
  if (picked.id === 'workspace') {
    if (!vscode.workspace.workspaceFolders?.length) {
      void vscode.window.showWarningMessage('LLM 101: open a folder to train on its files, or pick a file or folder.');
      return undefined;
    }
    return workspaceCorpus();
  }
  const uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: false, filters: { Text: ['txt'] }, openLabel: 'Train on this' });
  const uri = uris?.[0];
  return uri ? { paths: [uri.fsPath], label: path.basename(uri.fsPath) } : undefined;
}

/** Where a run's checkpoint goes: .llm101/models/ in the workspace, else the extension's storage. */
function checkpointFile(context: vscode.ExtensionContext, name: string): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const base = folder?.uri.scheme === 'file' ? path.join(folder.uri.fsPath, '.llm101', 'models') : path.join(context.globalStorageUri.fsPath, 'models');
  return path.join(base, `${name}.safetensors`);
}

const safeName = (name: string) => name.trim().replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);

export interface TrainOptions {
  /** Skip the questions (tests, other extensions): bundled poems unless corpusPaths or a task are given. */
  preset?: TrainPreset['id'];
  corpusPaths?: string[];
  task?: TrainTask;
  name?: string;
  steps?: number;
}

/** The run in progress, if any: one at a time. */
let running: { id: number; engine: EngineClient } | undefined;

export async function trainModel(context: vscode.ExtensionContext, engine: EngineClient, options: TrainOptions = {}): Promise<TrainEnd | undefined> {
  if (running) {
    const stop = 'Stop it';
    const choice = await vscode.window.showWarningMessage('LLM 101: a training run is in progress; one runs at a time.', stop, 'Show it');
    if (choice === stop) running.engine.stopTraining(running.id);
    else if (choice) TrainingPanel.show(context);
    return undefined;
  }
  const corpus: CorpusChoice | undefined = options.task ? { paths: [], label: TASK_LABELS[options.task], task: options.task }
    : options.corpusPaths ? { paths: options.corpusPaths, label: options.corpusPaths.map((p) => path.basename(p)).join(', ') }
    : options.preset ? { paths: [path.join(context.extensionPath, 'media', 'corpus')], label: 'the bundled poems' } : await pickCorpus(context.extensionPath);
  if (!corpus) return undefined;
  const presets = [...PRESETS, customPreset(context.extensionPath)];
  // the copying task trains with its own recipe, without the size question
  const preset = corpus.task === 'copying' ? COPYING_PRESET : options.preset
    ? presets.find((p) => p.id === options.preset)
    : await vscode.window.showQuickPick(presets.map((p) => ({ ...p, label: p.label, detail: p.detail })), { title: 'LLM 101: Train Model (2/2): the size', placeHolder: 'How big, and how long?' });
  if (!preset) return undefined;
  const suggested = safeName(corpus.task ? `${corpus.task}-task` : `${corpus.label === 'the bundled poems' ? 'poems' : path.parse(corpus.paths[0] ?? 'model').name}-${preset.id}`);
  const name = options.name ?? (options.preset ? suggested : await vscode.window.showInputBox({
    title: 'LLM 101: Train Model: name the model', value: suggested, prompt: 'The checkpoint is saved as .llm101/models/NAME.safetensors',
    validateInput: (v) => (safeName(v) ? undefined : 'Use letters, digits, dots or dashes'),
  }));
  if (!name) return undefined;
  const settings = readSettings(context.extensionPath);
  const out = checkpointFile(context, safeName(name));
  const job: TrainJob = {
    tokenizer: settings.tokenizer, dropout: 0.1, ...preset.job, ...(options.steps !== undefined && { steps: options.steps }),
    corpusPaths: corpus.paths, ...(corpus.task && { task: corpus.task }), bpeVocabSize: settings.bpeVocabSize,
    qkvBias: settings.qkvBias, seed: settings.seed, weightDecay: 0.1, out,
    keepBest: vscode.workspace.getConfiguration(SECTION).get<boolean>('train.keepBest', true),
  };

  const panel = TrainingPanel.show(context);
  const status = vscode.window.createStatusBarItem('llm101.training', vscode.StatusBarAlignment.Left, 100);
  status.name = 'LLM 101 training';
  status.command = { command: 'llm101.showTraining', title: 'Show the training panel' };
  status.text = '$(sync~spin) LLM 101: preparing to train';
  status.show();

  let lastSaved: { step: number; file: string } | undefined;
  let reportProgress: ((event: TrainEvent) => void) | undefined;
  const { id, done } = engine.train(job, (event) => {
    TrainingPanel.event(event);
    if (event.kind === 'steps') {
      const left = Math.round(event.etaMs / 1000);
      status.text = `$(sync~spin) LLM 101: training ${event.step}/${event.steps} · loss ${event.loss.toFixed(2)} · ${left}s left`;
    } else if (event.kind === 'paused') {
      status.text = event.paused ? '$(debug-pause) LLM 101: training paused' : '$(sync~spin) LLM 101: training';
    } else if (event.kind === 'saved' && !event.best) {
      lastSaved = { step: event.step, file: event.file };
    }
    reportProgress?.(event);
  });
  running = { id, engine };
  const analyzeWithModel = async () => {
    if (lastSaved) await useModel(lastSaved.file);
    await analyzeSelection(context, engine);
  };
  panel.start(name, corpus.label, preset.label, {
    pause: () => engine.pauseTraining(id, true),
    resume: () => engine.pauseTraining(id, false),
    stop: () => engine.stopTraining(id),
    analyzeWithModel: () => void analyzeWithModel(),
  });

  const progress = vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `LLM 101: training ${name}`, cancellable: true },
    async (report, token) => {
      token.onCancellationRequested(() => engine.stopTraining(id));
      let last = 0;
      reportProgress = (event) => {
        if (event.kind !== 'steps') return;
        report.report({ message: `step ${event.step} of ${event.steps}, loss ${event.loss.toFixed(3)} (Cancel keeps what was learned)`, increment: ((event.step - last) / event.steps) * 100 });
        last = event.step;
      };
      return done.catch(() => undefined);
    },
  );
  let end: TrainEnd;
  try {
    const result = await done;
    // the best validation checkpoint is the playground's model when training went on past it
    const model = result.best && result.best.step < result.step ? result.best.file : result.file;
    end = {
      state: result.stopped ? 'stopped' : 'done', file: result.file, step: result.step, trainLoss: result.trainLoss, valLoss: result.valLoss, elapsedMs: result.elapsedMs,
      model, ...(result.best && { best: result.best }), ...(result.stop && { stopAskedAt: result.stop.askedAt }),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    end = { state: 'error', step: lastSaved?.step ?? 0, trainLoss: null, valLoss: null, elapsedMs: 0, message, ...(lastSaved && { file: lastSaved.file }) };
  } finally {
    running = undefined;
    status.dispose();
    await progress;
  }
  if (end.state === 'error' && end.file) end.model = end.file;
  TrainingPanel.end(end);
  if (end.model) {
    await useModel(end.model);
    const where = vscode.workspace.asRelativePath(end.model);
    const verb = end.state === 'done' ? 'trained' : end.state === 'stopped' ? 'stopped; what it learned is kept' : `failed (${end.message ?? ''}); the last saved step is kept`;
    const which = end.best && end.model === end.best.file
      ? `the best validation checkpoint (step ${end.best.step}, validation loss ${end.best.valLoss.toFixed(3)}; step ${end.step} is in ${vscode.workspace.asRelativePath(end.file ?? '')})`
      : `step ${end.step}${end.valLoss !== null ? `, validation loss ${end.valLoss.toFixed(3)}` : ''}`;
    const analyze = 'Analyze Selection';
    void vscode.window.showInformationMessage(
      `LLM 101: ${name} ${verb}: ${where}, ${which}. The playground now uses it (llm101.weightsPath).`,
      analyze,
    ).then((choice) => (choice === analyze ? analyzeSelection(context, engine) : undefined));
  } else if (end.state === 'error') {
    void vscode.window.showErrorMessage(`LLM 101: training ${name} failed: ${end.message ?? ''}`);
  }
  return end;
}

/** Makes a checkpoint the playground's model (workspace settings when a folder is open). */
async function useModel(file: string): Promise<void> {
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  const cfg = vscode.workspace.getConfiguration(SECTION);
  // a changed setting re-runs the open playground by itself; the same one (a second save) does not
  if (cfg.get<string>('weightsPath') !== file) await cfg.update('weightsPath', file, target);
  else void PlaygroundPanel.current?.rerun();
}

/** Stops the run in progress, if any (deactivation, tests). */
export function stopTraining(): void {
  if (running) running.engine.stopTraining(running.id);
}
