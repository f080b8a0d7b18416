// A colour bar under a map: its two ends, the gradient between them on the map's own scale, and
// one line that says what a colour measures. Used by the playground and the training panel.
import { colorOf, css, type Scale, type ScaleKind } from './colors';
import { el } from './dom';
import { formatCell } from './heatmap';

/** How the scale runs, for the legend's line. */
export function scaleKindText(kind: ScaleKind): string {
  return kind === 'log' ? 'log scale' : kind === 'diverging' ? 'centred on 0' : 'linear';
}

/** `ends`: words for the two ends instead of numbers (maps that each have their own range). */
export function colorLegend(scale: Scale, measures: string, ends?: readonly [string, string]): HTMLElement {
  const { min, max, kind } = scale;
  const lo = kind === 'diverging' ? -Math.max(Math.abs(min), Math.abs(max)) : min;
  const hi = kind === 'diverging' ? -lo : max;
  const at = (f: number) => (kind === 'log' ? lo * (hi / lo) ** f : lo + (hi - lo) * f);
  const stops = Array.from({ length: 11 }, (_, i) => css(colorOf(scale, at(i / 10))));
  const bar = el('span', { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  const label = (v: number) => (kind === 'log' && v < 0.01 ? v.toExponential(0) : formatCell(v));
  const legend = el('div', { className: 'legend' });
  legend.append(el('span', { textContent: ends?.[0] ?? label(lo) }), bar, el('span', { textContent: ends?.[1] ?? label(hi) }),
    el('span', { className: 'measures', textContent: measures }));
  return legend;
}
