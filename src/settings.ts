// Reads the `llm101.*` settings into the engine's request and writes the panel's knobs back,
// so the panel and the Settings UI never disagree.
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { Knob, KnobValues } from './shared/protocol';
import type { AnalyzeOptions } from './engine/pipeline';
import type { TokenizerKind } from './engine/types';
import { DEFAULT_CONFIG, EngineError, validateSettings } from './engine/config';
import { expandHome } from './engine/corpus';
import { BPE_DEFAULT_VOCAB } from './engine/tokenizer';

export const SECTION = 'llm101';

export interface PlaygroundSettings extends AnalyzeOptions {
  maxTokens: number;
}

/**
 * The settings as the engine wants them; paths resolved, attnDim 0 meaning "same as dim".
 * package.json declares the defaults VS Code returns; the engine's are only the typed fallback.
 */
export function readSettings(extensionPath: string): PlaygroundSettings {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const dim = cfg.get<number>('dim', DEFAULT_CONFIG.dim);
  const attnDim = cfg.get<number>('attnDim', 0);
  return {
    tokenizer: cfg.get<string>('tokenizer', DEFAULT_CONFIG.tokenizer) as TokenizerKind,
    bpeVocabSize: cfg.get<number>('bpeVocabSize', BPE_DEFAULT_VOCAB),
    corpusPath: resolvePath(cfg.get<string>('corpusPath', '')) ?? path.join(extensionPath, 'media', 'corpus'),
    weightsPath: resolvePath(cfg.get<string>('weightsPath', '')),
    dim,
    attnDim: attnDim > 0 ? attnDim : dim,
    heads: cfg.get<number>('heads', DEFAULT_CONFIG.heads),
    dropout: cfg.get<number>('dropout', DEFAULT_CONFIG.dropout),
    seed: cfg.get<number>('seed', DEFAULT_CONFIG.seed),
    contextLength: cfg.get<number>('contextLength', DEFAULT_CONFIG.contextLength),
    qkvBias: cfg.get<boolean>('qkvBias', DEFAULT_CONFIG.qkvBias),
    maxTokens: cfg.get<number>('maxTokens', DEFAULT_CONFIG.contextLength),
  };
}

export function knobValues(settings: PlaygroundSettings): KnobValues {
  const { heads, dropout, seed, dim, tokenizer } = settings;
  return { heads, dropout, seed, dim, tokenizer };
}

/** The part of a setting's schema in package.json that a knob's value is checked against. */
export interface SettingSchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
}

/**
 * Checks a value the panel wants to write, before anything is written: first against the
 * setting's schema in package.json (type, range, choices), then, put in place of the current
 * settings, through the engine's one validator (heads dividing attnDim, dropout range, ...).
 * `attnDim`: the attention size in use, which a weights file decides. Returns the message to show
 * next to the knob, or undefined when the value may be written.
 */
export function knobProblem(
  knob: Knob, value: unknown, schema: SettingSchema | undefined, settings: PlaygroundSettings, attnDim?: number,
): string | undefined {
  const name = `${SECTION}.${knob}`;
  if (!schema) return `${name} is not a setting of this extension`;
  if (schema.enum && !schema.enum.includes(value)) return `${name} must be one of ${schema.enum.join(', ')}, got ${String(value)}`;
  if (schema.type === 'integer' || schema.type === 'number') {
    const whole = schema.type === 'integer';
    const { minimum: min, maximum: max, exclusiveMaximum: below } = schema;
    const range = [min !== undefined && `at least ${min}`, max !== undefined && `at most ${max}`, below !== undefined && `below ${below}`]
      .filter(Boolean).join(' and ');
    const ok = typeof value === 'number' && Number.isFinite(value) && (!whole || Number.isInteger(value))
      && (min === undefined || value >= min) && (max === undefined || value <= max) && (below === undefined || value < below);
    if (!ok) return `${name} must be ${whole ? 'a whole number' : 'a number'}${range ? ` ${range}` : ''}, got ${String(value)}`;
  } else if (schema.type === 'string' && typeof value !== 'string') {
    return `${name} must be text, got ${String(value)}`;
  }
  const next = { ...settings, [knob]: value } as PlaygroundSettings;
  if (knob === 'dim' && settings.attnDim === settings.dim) next.attnDim = next.dim; // attnDim 0 follows dim
  if (settings.weightsPath && attnDim !== undefined) next.attnDim = attnDim;
  try {
    validateSettings(next, { sizesFromWeights: settings.weightsPath !== undefined && attnDim === undefined });
  } catch (err) {
    if (err instanceof EngineError) return err.message;
    throw err;
  }
  return undefined;
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
