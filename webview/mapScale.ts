// How a heatmap's cells become colours: its scale (a fixed range, or its own, clipped where a few
// outliers would grey out the rest) and whether it is big enough to zoom. Display only.
import { MAP_LEVELS, finiteRange, levelValue, type MapCodes } from '../src/shared/codes';
import type { PanelMap } from '../src/shared/protocol';
import type { Scale } from './colors';
import type { HeatmapSpec } from './heatmapSpec';

/** Above this many rows or columns a map can zoom (its labels would not fit a panel's width). */
export const ZOOM_ABOVE = 32;

const isCodes = (m: PanelMap): m is MapCodes => 'codes' in m;

/** Whether a map is big enough to zoom into (its labels would not fit a panel's width). */
export const isZoomable = (spec: HeatmapSpec) => spec.matrix.rows > ZOOM_ABOVE || spec.matrix.cols > ZOOM_ABOVE;

/** Share of the cells whose |value| a clipped diverging scale still tells apart. */
const CLIP_QUANTILE = 0.99;
const scales = new WeakMap<object, Scale & { largest?: number }>();

/**
 * The colours a map is drawn with: a fixed range (attention weights), or the map's own range.
 * A diverging map whose largest |value| is far above nearly all the others (a few outliers in a
 * layer norm's output or an embedding) would be grey everywhere else: its colours stop at the
 * 99th percentile of |value| instead (`largest`: the true largest |value|, which the legend says).
 */
export function mapScale(spec: HeatmapSpec): Scale & { largest?: number } {
  const m = spec.matrix;
  if (spec.range && !isCodes(m)) return { kind: spec.scale, min: spec.range[0], max: spec.range[1] };
  const kind = isCodes(m) ? m.scale.kind : spec.scale;
  const known = scales.get(m);
  if (known) return known;
  const [min, max] = isCodes(m) ? [m.scale.min, m.scale.max] : finiteRange(m.data, m.cols);
  let scale: Scale & { largest?: number } = { kind, min, max };
  if (kind === 'diverging') {
    const largest = Math.max(Math.abs(min), Math.abs(max));
    const bound = absQuantile(m, CLIP_QUANTILE);
    if (bound > 0 && bound < 0.8 * largest) scale = { kind, min: -bound, max: bound, largest };
  }
  scales.set(m, scale);
  return scale;
}

/** The q-quantile of |value| over a map's finite cells (codes: by level; exact: an even sample). */
function absQuantile(m: PanelMap, q: number): number {
  if (isCodes(m)) {
    const counts = new Float64Array(MAP_LEVELS);
    let n = 0;
    for (const code of m.codes) if (code < MAP_LEVELS) { counts[code]!++; n++; }
    const byAbs = Array.from(counts, (count, level) => ({ abs: Math.abs(levelValue(m.scale, level)), count })).sort((a, b) => a.abs - b.abs);
    let seen = 0;
    for (const { abs, count } of byAbs) if ((seen += count) >= q * n) return abs;
    return 0;
  }
  const step = Math.max(1, Math.floor(m.data.length / 65536));
  const sample: number[] = [];
  for (let i = 0; i < m.data.length; i += step) {
    const v = m.data[i]!;
    if (Number.isFinite(v)) sample.push(Math.abs(v));
  }
  sample.sort((a, b) => a - b);
  return sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] ?? 0;
}
