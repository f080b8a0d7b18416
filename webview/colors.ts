// Colour scales for the heatmaps. Both are perceptually ordered and keep enough contrast against
// dark, light and high-contrast editor backgrounds (neither end is pure black or pure white).

export type Rgb = readonly [number, number, number];

// Viridis (van der Walt & Smith, matplotlib, CC0) sampled at 9 evenly spaced points.
const VIRIDIS: Rgb[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

// A blue–grey–orange diverging scale (after ColorBrewer's PuOr/RdBu idea, our own stops): the
// middle is a mid grey rather than white so zero stays visible on light backgrounds.
const DIVERGING: Rgb[] = [
  [33, 102, 172], [67, 147, 195], [146, 197, 222], [160, 160, 160],
  [244, 165, 130], [214, 96, 77], [178, 24, 43],
];

function sample(stops: readonly Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i] ?? stops[0]!;
  const b = stops[i + 1] ?? a;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// The scale types are shared with the host, which encodes long texts' maps on the same scales.
import type { Scale, ScaleKind } from '../src/shared/codes';
export type { Scale, ScaleKind };

/** RGB for `value` on the scale (diverging scales are centred on 0). */
export function colorOf(scale: Scale, value: number): Rgb {
  if (scale.kind === 'diverging') {
    const m = Math.max(Math.abs(scale.min), Math.abs(scale.max)) || 1;
    return sample(DIVERGING, 0.5 + value / (2 * m));
  }
  if (scale.kind === 'log') {
    if (!(value > 0)) return sample(VIRIDIS, 0);
    const lo = Math.log(scale.min);
    return sample(VIRIDIS, (Math.log(value) - lo) / (Math.log(scale.max) - lo || 1));
  }
  const span = scale.max - scale.min || 1;
  return sample(VIRIDIS, (value - scale.min) / span);
}

export const css = ([r, g, b]: Rgb) => `rgb(${r | 0}, ${g | 0}, ${b | 0})`;

/** Black or white, whichever reads better on the colour (for numbers drawn inside cells). */
export function inkOn([r, g, b]: Rgb): string {
  const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  return luminance > 0.55 ? '#111' : '#fff';
}

