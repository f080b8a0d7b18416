// The attention timelapse: the probe sentence's attention weights at the steps the run saved a
// frame, one layer and head at a time on the playground's heatmap, with a slider over the steps
// ("step N"), a layer and a head picker, a Play button and a colour bar. While the slider rests on
// the newest frame it follows the run; moved back, it stays where the learner put it.
import { CODE_MASKED, MAP_LEVELS, codeAt, levelValue, type MapCodes } from '../../src/shared/codes';
import { Heatmap } from '../heatmap';
import { colorLegend } from '../legend';
import type { RunState } from '../../src/shared/trainingRun';
import { frameAt, rolesText } from './run';
import { el } from '../dom';


export class Timelapse {
  readonly root = el('div', { className: 'timelapse' });
  private readonly slider = el('input', { type: 'range', id: 'timelapse-slider', min: '0', max: '0', step: '1', value: '0' });
  private readonly stepLabel = el('output', { id: 'timelapse-step', className: 'step-label' });
  private readonly play = el('button', { type: 'button', className: 'secondary', id: 'timelapse-play' });
  private readonly layers = el('div', { className: 'toggle', id: 'timelapse-layer', role: 'radiogroup' });
  private readonly heads = el('div', { className: 'toggle', id: 'timelapse-head', role: 'radiogroup' });
  private readonly mapBox = el('figure', { className: 'map', id: 'timelapse-map' });
  /** The head's role scores on the probe at the frame's step, with what each measures. */
  private readonly roles = el('p', { className: 'hint', id: 'timelapse-roles' });
  private readonly waiting = el('p', { className: 'hint', textContent: 'The first map comes at step 0, before any training: wait a moment.' });
  private map: Heatmap | undefined;
  private layer = 0;
  private head = 0;
  private index = 0;
  private follow = true;
  private timer: number | undefined;
  private frames: RunState['frames'] = [];
  private probe: readonly string[] = [];
  private shape = { layers: 0, heads: 0 };

  constructor(private readonly tooltip: HTMLElement) {
    this.slider.setAttribute('aria-label', 'training step of the attention map');
    this.slider.addEventListener('input', () => {
      this.stopPlaying();
      this.index = Number(this.slider.value);
      this.follow = this.index === this.frames.length - 1;
      this.showFrame();
    });
    this.play.addEventListener('click', () => (this.timer === undefined ? this.startPlaying() : this.stopPlaying()));
    this.setPlayLabel();
    const sliderRow = el('div', { className: 'slider-row' });
    sliderRow.append(this.play, this.slider, this.stepLabel);
    const pickers = el('div', { className: 'pickers' });
    pickers.append(el('span', { className: 'picker-label', textContent: 'layer' }), this.layers, el('span', { className: 'picker-label', textContent: 'head' }), this.heads);
    this.root.append(sliderRow, pickers, this.waiting, this.roles, this.mapBox);
    this.root.hidden = false;
  }

  /** The run's frames so far (the same array grows; call again when one arrives). */
  update(run: RunState): void {
    this.frames = run.frames;
    this.probe = run.info?.probe ?? [];
    const first = this.frames[0];
    const layers = first?.heads.length ?? run.info?.config.layers ?? 0;
    const heads = first?.heads[0]?.length ?? run.info?.config.heads ?? 0;
    if (layers !== this.shape.layers || heads !== this.shape.heads) {
      this.shape = { layers, heads };
      this.layer = Math.min(this.layer, Math.max(0, layers - 1));
      this.head = Math.min(this.head, Math.max(0, heads - 1));
      this.buildPickers();
    }
    const last = Math.max(0, this.frames.length - 1);
    this.slider.max = String(last);
    this.slider.disabled = this.frames.length < 2;
    this.root.dataset.frames = String(this.frames.length);
    this.root.dataset.steps = this.frames.map((f) => f.step).join(',');
    if (this.follow && this.timer === undefined) this.index = last;
    this.slider.value = String(this.index);
    this.waiting.hidden = this.frames.length > 0;
    this.showFrame();
  }

  /** Repaints after a resize or a theme change (the map reads the theme's colours). */
  relayout(): void {
    if (this.map) this.map.draw(this.width());
  }

  dispose(): void {
    this.stopPlaying();
    this.map?.dispose();
  }

  private width(): number {
    return Math.max(220, (this.mapBox.clientWidth || this.root.clientWidth || 560) - 8);
  }

  private buildPickers(): void {
    const pick = (box: HTMLElement, count: number, current: number, choose: (i: number) => void) => {
      box.replaceChildren(...Array.from({ length: count }, (_, i) => {
        const b = el('button', { type: 'button', textContent: String(i + 1) });
        b.dataset.value = String(i);
        b.setAttribute('role', 'radio');
        b.setAttribute('aria-checked', String(i === current));
        b.addEventListener('click', () => {
          choose(i);
          for (const other of box.querySelectorAll('button')) other.setAttribute('aria-checked', String(other === b));
          this.showFrame();
        });
        return b;
      }));
    };
    pick(this.layers, this.shape.layers, this.layer, (i) => { this.layer = i; });
    pick(this.heads, this.shape.heads, this.head, (i) => { this.head = i; });
    this.layers.setAttribute('aria-label', 'layer');
    this.heads.setAttribute('aria-label', 'head');
  }

  private showFrame(): void {
    const frame = frameAt(this.frames, this.index);
    this.stepLabel.value = frame ? `step ${frame.step}` : 'step –';
    this.root.dataset.step = frame ? String(frame.step) : '';
    const codes = frame?.heads[this.layer]?.[this.head];
    const scores = frame?.roles[this.layer]?.[this.head];
    this.roles.textContent = scores ? rolesText(scores, this.probe.length / 2, frame.step) : '';
    this.roles.hidden = !scores;
    if (scores) {
      this.roles.dataset.previousToken = scores.previousToken?.toFixed(3) ?? '';
      this.roles.dataset.induction = scores.induction?.toFixed(3) ?? '';
    }
    if (!frame || !codes) {
      this.mapBox.replaceChildren();
      this.map?.dispose();
      this.map = undefined;
      return;
    }
    const labels = this.probe.length === codes.rows ? this.probe : Array.from({ length: codes.rows }, (_, i) => String(i));
    const title = `layer ${this.layer + 1}, head ${this.head + 1} at step ${frame.step}`;
    const map = new Heatmap({
      name: `timelapse.${this.layer}.${this.head}`,
      title,
      matrix: codes,
      rowLabels: labels,
      colLabels: labels,
      rowAxis: 'queries',
      colAxis: 'keys',
      scale: codes.scale.kind,
      describe: (r, c) => describeCell(codes, labels, r, c),
      exact: (r, c) => ({ value: weightOf(codes, r, c), mark: '≈' }),
      rowsAreTokens: true,
      colsAreTokens: true,
    }, { tooltip: this.tooltip, onHoverToken: (query, key) => map.highlight(query, key ?? query) });
    this.map?.dispose();
    this.map = map;
    const cap = el('figcaption');
    cap.append(el('span', { className: 'title', textContent: `Attention weights of the probe sentence: ${title}` }),
      el('span', { className: 'shape', textContent: `${codes.rows}×${codes.cols}` }));
    const scroll = el('div', { className: 'map-scroll' });
    scroll.append(map.canvas);
    const bar = colorLegend(codes.scale, 'colour: attention weight (0–1), the share of the query’s attention that goes to the key; each row sums to 1; hatched: future keys, masked. ≈: a weight read back from the map’s 254 colour levels (within 0.002)');
    this.mapBox.replaceChildren(cap, scroll, bar);
    map.draw(this.width());
  }

  private startPlaying(): void {
    if (this.frames.length < 2) return;
    // From the start when at the end, so Play always shows the whole film.
    if (this.index >= this.frames.length - 1) this.index = 0;
    this.follow = false;
    this.timer = window.setInterval(() => {
      if (this.index >= this.frames.length - 1) {
        this.stopPlaying();
        this.follow = true;
        return;
      }
      this.index++;
      this.slider.value = String(this.index);
      this.showFrame();
    }, 450);
    this.slider.value = String(this.index);
    this.showFrame();
    this.setPlayLabel();
  }

  private stopPlaying(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
    this.setPlayLabel();
  }

  private setPlayLabel(): void {
    const playing = this.timer !== undefined;
    this.play.replaceChildren(el('i', { className: `codicon codicon-${playing ? 'debug-pause' : 'play'}` }), document.createTextNode(playing ? ' Pause' : ' Play'));
    this.play.title = playing ? 'Stop the timelapse' : 'Play the timelapse from the first saved step';
  }
}

/** A cell's weight as the display code stands for it (within half a colour level). */
function weightOf(codes: MapCodes, r: number, c: number): number {
  const code = codeAt(codes, r, c);
  return code < MAP_LEVELS ? levelValue(codes.scale, code) : 0;
}

function describeCell(codes: MapCodes, labels: readonly string[], r: number, c: number): string[] {
  const lines = [`query ${r} “${labels[r] ?? ''}” → key ${c} “${labels[c] ?? ''}”`];
  if (codeAt(codes, r, c) === CODE_MASKED) lines.push('future token: masked (a causal model cannot look ahead)');
  else lines.push(`weight ≈ ${weightOf(codes, r, c).toFixed(3)} (to the colour scale’s precision)`);
  return lines;
}
