// The one check of a knob's value, made by the panel before it sends the value and by the host
// before it writes the setting: the same message in both places, next to the knob. The ranges are
// those of the settings' schema in package.json (a unit test keeps the two equal); the rule
// between knobs is the engine's (the heads divide the model's width, dim).
import { TOKENIZER_KINDS } from '../engine/types';
import type { Knob } from './protocol';

/** Each numeric knob's range; `below`: an exclusive maximum. */
export const KNOB_RANGES = {
  heads: { whole: true, min: 1, max: 64 },
  dropout: { whole: false, min: 0, below: 1, example: 0.1 },
  seed: { whole: true, min: 0, max: 4294967295 },
  dim: { whole: true, min: 1, max: 4096 },
} as const satisfies Record<Exclude<Knob, 'tokenizer'>, { whole: boolean; min: number; max?: number; below?: number; example?: number }>;

/** What the check needs besides the value: the sizes in use. */
export interface KnobContext {
  heads: number;
  /** The model's width the heads must divide: a checkpoint's when one is loaded (undefined until it has been read). */
  dim: number | undefined;
  /** A checkpoint decides dim: the dim knob does not change the model. */
  fromFile: boolean;
}

/** The head counts that divide dim, up to the heads knob's maximum. */
export function validHeads(dim: number, max: number = KNOB_RANGES.heads.max): number[] {
  const out: number[] = [];
  for (let h = 1; h <= Math.min(dim, max); h++) if (dim % h === 0) out.push(h);
  return out;
}

/**
 * Why `value` cannot be written to `knob`, with the fix, or undefined when it can. `value` is what
 * the learner typed (text from an input) or what crossed the wire (a number or text).
 */
export function knobProblem(knob: Knob, value: unknown, ctx: KnobContext): string | undefined {
  if (knob === 'tokenizer') {
    return (TOKENIZER_KINDS as readonly unknown[]).includes(value) ? undefined : `tokenizer must be one of ${TOKENIZER_KINDS.join(', ')}, got ${String(value)}`;
  }
  if (typeof value === 'string' && value.trim() === '') return `${knob} needs a number`;
  const v = typeof value === 'string' ? Number(value) : value;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${knob} must be a number, got ${String(value)}`;
  const range: { whole: boolean; min: number; max?: number; below?: number; example?: number } = KNOB_RANGES[knob];
  const inRange = v >= range.min && (range.max === undefined || v <= range.max) && (range.below === undefined || v < range.below);
  if (!inRange || (range.whole && !Number.isInteger(v))) {
    const upTo = range.max !== undefined ? `from ${range.min} to ${range.max}` : `at least ${range.min} and below ${range.below}`;
    return `${knob} must be ${range.whole ? 'a whole number' : 'a number'} ${upTo}${range.example !== undefined ? ` (e.g. ${range.example})` : ''}, got ${String(value)}`;
  }
  if (knob === 'heads' && ctx.dim !== undefined && ctx.dim % v !== 0) {
    return `heads (${v}) must divide dim (${ctx.dim}); valid head counts: ${validHeads(ctx.dim).join(', ')}`;
  }
  if (knob === 'dim' && !ctx.fromFile && v % ctx.heads !== 0) {
    const below = Math.floor(v / ctx.heads) * ctx.heads;
    const near = [below, below + ctx.heads].filter((d) => d >= 1).join(' or ');
    return `dim (${v}) must be a multiple of heads (${ctx.heads}), e.g. ${near}; or change heads first`;
  }
  return undefined;
}
