// The check of a value the panel wants to write into a setting, without VS Code (unit-tested):
// the setting's schema from package.json first, then the engine's one validator.
import { EngineError, validateSettings } from './engine/config';
import type { Knob } from './shared/protocol';
import type { PlaygroundSettings } from './settings';

export const SECTION = 'llm101';

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
 * settings, through the engine's one validator (heads dividing dim, dropout range, ...).
 * `modelDim`: the model's width when a checkpoint decides it. Returns the message to show
 * next to the knob, or undefined when the value may be written.
 */
export function knobProblem(
  knob: Knob, value: unknown, schema: SettingSchema | undefined, settings: PlaygroundSettings, modelDim?: number,
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
  if (settings.weightsPath && modelDim !== undefined) next.dim = modelDim;
  try {
    validateSettings(next, { sizesFromWeights: settings.weightsPath !== undefined && modelDim === undefined });
  } catch (err) {
    if (err instanceof EngineError) return err.message;
    throw err;
  }
  return undefined;
}

