// A colour bar under a map: its two ends, the gradient between them on the map's own scale, and
// one line that says what a colour measures. Used by the playground and the training panel.
import { colorOf, css, type Scale, type ScaleKind } from './colors';
import { formatCell } from './heatmap';

/** How the scale runs, for the legend's line. */
export function scaleKindText(kind: ScaleKind): string {
  return kind === 'log' ? 'log scale' : kind === 'diverging' ? 'centred on 0' : 'linear';
}

export function colorLegend(scale: Scale, measures: string): HTMLElement {
  const { min, max, kind } = scale;
  const el = Object.assign(document.createElement('div'), { className: 'legend' });
  const lo = kind === 'diverging' ? -Math.max(Math.abs(min), Math.abs(max)) : min;
  const hi = kind === 'diverging' ? -lo : max;
  const at = (f: number) => (kind === 'log' ? lo * (hi / lo) ** f : lo + (hi - lo) * f);
  const stops = Array.from({ length: 11 }, (_, i) => css(colorOf(scale, at(i / 10))));
  const bar = Object.assign(document.createElement('span'), { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  const label = (v: number) => (kind === 'log' && v < 0.01 ? v.toExponential(0) : formatCell(v));
  el.append(Object.assign(document.createElement('span'), { textContent: label(lo) }), bar,
    Object.assign(document.createElement('span'), { textContent: label(hi) }),
    Object.assign(document.createElement('span'), { className: 'measures', textContent: measures }));
  return el;
}
