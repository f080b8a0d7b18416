// Reads the `llm101.*` settings into the engine's request and writes the panel's knobs back,
// so the panel and the Settings UI never disagree.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { Knob, KnobValues } from './shared/protocol';
import type { AnalyzeOptions } from './engine/pipeline';
import type { TokenizerKind } from './engine/types';
import { DEFAULT_CONFIG, DEFAULT_LAYERS } from './engine/config';
import { expandHome } from './engine/corpus';
import { BPE_DEFAULT_VOCAB } from './engine/tokenizer';
import { resolveWeightsSetting } from './bundledModels';

/** The settings' section: `llm101.<key>`. */
export const SECTION = 'llm101';

export interface PlaygroundSettings extends AnalyzeOptions {
  maxTokens: number;
  /** Blocks of the seeded GPT (a checkpoint brings its own). */
  layers: number;
  /** The user chose the tokenizer (a GPT-2 checkpoint otherwise picks the gpt2 tokenizer). */
  tokenizerExplicit: boolean;
}

/**
 * The settings as the engine wants them; paths resolved.
 * package.json declares the defaults VS Code returns; the engine's are only the typed fallback.
 */
export function readSettings(extensionPath: string): PlaygroundSettings {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return {
    tokenizer: cfg.get<string>('tokenizer', DEFAULT_CONFIG.tokenizer) as TokenizerKind,
    bpeVocabSize: cfg.get<number>('bpeVocabSize', BPE_DEFAULT_VOCAB),
    corpusPath: resolvePath(cfg.get<string>('corpusPath', '')) ?? path.join(extensionPath, 'media', 'corpus'),
    weightsPath: resolveWeightsSetting(cfg.get<string>('weightsPath', ''), extensionPath, resolvePath),
    dim: cfg.get<number>('dim', DEFAULT_CONFIG.dim),
    heads: cfg.get<number>('heads', DEFAULT_CONFIG.heads),
    dropout: cfg.get<number>('dropout', DEFAULT_CONFIG.dropout),
    seed: cfg.get<number>('seed', DEFAULT_CONFIG.seed),
    contextLength: cfg.get<number>('contextLength', DEFAULT_CONFIG.contextLength),
    qkvBias: cfg.get<boolean>('qkvBias', DEFAULT_CONFIG.qkvBias),
    maxTokens: cfg.get<number>('maxTokens', DEFAULT_CONFIG.contextLength),
    layers: cfg.get<number>('layers', DEFAULT_LAYERS),
    tokenizerExplicit: isSet(cfg.inspect<string>('tokenizer')),
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
  const expanded = expandHome(trimmed);
  if (path.isAbsolute(expanded)) return expanded;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, expanded) : path.resolve(expanded);
}

/** A setting given anywhere (user, workspace, folder, language), not left at its default. */
function isSet(inspected: { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown } | undefined): boolean {
  return inspected !== undefined && [inspected.globalValue, inspected.workspaceValue, inspected.workspaceFolderValue].some((v) => v !== undefined);
}
