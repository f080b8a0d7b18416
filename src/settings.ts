// Reads the `llm101.*` settings into the engine's request and writes the panel's knobs back,
// so the panel and the Settings UI never disagree.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { Knob, KnobValues } from './shared/protocol';
import type { AnalyzeOptions } from './engine/pipeline';
import type { TokenizerKind } from './engine/types';

export const SECTION = 'llm101';

export interface PlaygroundSettings extends AnalyzeOptions {
  maxTokens: number;
}

/** The settings as the engine wants them; paths resolved, attnDim 0 meaning "same as dim". */
export function readSettings(extensionPath: string): PlaygroundSettings {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const dim = cfg.get<number>('dim', 28);
  const attnDim = cfg.get<number>('attnDim', 0);
  return {
    tokenizer: cfg.get<string>('tokenizer', 'word') as TokenizerKind,
    bpeVocabSize: cfg.get<number>('bpeVocabSize', 512),
    corpusPath: resolvePath(cfg.get<string>('corpusPath', '')) ?? path.join(extensionPath, 'media', 'corpus'),
    weightsPath: resolvePath(cfg.get<string>('weightsPath', '')),
    dim,
    attnDim: attnDim > 0 ? attnDim : dim,
    heads: cfg.get<number>('heads', 7),
    dropout: cfg.get<number>('dropout', 0.4),
    seed: cfg.get<number>('seed', 123),
    contextLength: cfg.get<number>('contextLength', 2048),
    qkvBias: cfg.get<boolean>('qkvBias', false),
    maxTokens: cfg.get<number>('maxTokens', 2048),
  };
}

export function knobValues(settings: PlaygroundSettings): KnobValues {
  const { heads, dropout, seed, dim, tokenizer } = settings;
  return { heads, dropout, seed, dim, tokenizer };
}

/** Writes one knob to the workspace settings when a folder is open, else to the user settings. */
export async function writeKnob(knob: Knob, value: number | string): Promise<void> {
  const target = vscode.workspace.workspaceFolders?.length
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION).update(knob, value, target);
}

function resolvePath(value: string): string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  const expanded = trimmed.startsWith('~/') ? path.join(process.env.HOME ?? '', trimmed.slice(2)) : trimmed;
  if (path.isAbsolute(expanded)) return expanded;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, expanded) : path.resolve(expanded);
}
