// The panel's heatmap without a browser: a minimal canvas and window stand in for the DOM, enough
// to construct, highlight and dispose maps. What is checked is the listener bookkeeping: a map
// adds a mouseup listener to the window (dragging can end outside the canvas) and dispose() must
// take it away again, or every re-render leaks one per map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// Loads no DOM at import time: the fakes below are in place before the first map is built.
import { Heatmap } from '../../webview/heatmap';

/** An EventTarget that knows which listeners are live (removed by removeEventListener or an aborted signal). */
class CountingTarget extends EventTarget {
  readonly live = new Set<{ type: string; listener: unknown }>();
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    const entry = { type, listener };
    const signal = typeof options === 'object' ? options.signal : undefined;
    if (signal?.aborted) return;
    this.live.add(entry);
    signal?.addEventListener('abort', () => this.live.delete(entry));
    super.addEventListener(type, listener, options);
  }
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    for (const e of this.live) if (e.type === type && e.listener === listener) this.live.delete(e);
    super.removeEventListener(type, listener, options);
  }
  count(type: string): number {
    return [...this.live].filter((e) => e.type === type).length;
  }
}

const context2d = new Proxy({}, {
  get: (_t, name) => (name === 'measureText' ? () => ({ width: 20 }) : () => undefined),
  set: () => true,
});

class FakeCanvas extends CountingTarget {
  id = '';
  title = '';
  width = 0;
  height = 0;
  dataset: Record<string, string> = {};
  style: Record<string, string> = {};
  classList = { add: () => undefined };
  setAttribute(): void {}
  getContext() {
    return context2d;
  }
}

const fakeWindow = Object.assign(new CountingTarget(), { devicePixelRatio: 1, innerWidth: 600, innerHeight: 800 });
Object.assign(globalThis, {
  window: fakeWindow,
  document: { createElement: () => new FakeCanvas(), body: {} },
  getComputedStyle: () => ({ getPropertyValue: () => '' }),
  ImageData: class { data: Uint8ClampedArray; constructor(readonly width: number, readonly height: number) { this.data = new Uint8ClampedArray(width * height * 4); } },
});


function bigMap(name: string) {
  const n = 200; // large enough to zoom and pan, at any threshold
  const host = { tooltip: { hidden: true, replaceChildren: () => undefined } as unknown as HTMLElement, onHoverToken: () => undefined };
  return new Heatmap({
    name, title: name, matrix: { rows: n, cols: n, data: new Float32Array(n * n) }, rowLabels: [], colLabels: [],
    rowAxis: 'queries', colAxis: 'keys', scale: 'sequential', range: [0, 1], describe: () => [], rowsAreTokens: true, colsAreTokens: true,
  }, host);
}

test('a zoomable heatmap removes its window mouseup listener when disposed', () => {
  const before = fakeWindow.count('mouseup');
  const maps = [bigMap('a.weights'), bigMap('b.weights')];
  assert.equal(fakeWindow.count('mouseup'), before + 2, 'each zoomable map listens for the end of a drag on the window');
  for (const map of maps) map.dispose();
  assert.equal(fakeWindow.count('mouseup'), before, 'disposed maps leave no window listeners behind');
});

test('dispose() also ends the canvas listeners (hover, wheel, drag)', () => {
  const map = bigMap('c.weights');
  const canvas = map.canvas as unknown as FakeCanvas;
  assert.ok(canvas.live.size >= 4);
  map.dispose();
  assert.equal(canvas.live.size, 0);
});

test('the canvas names its axes for tests and screen readers', () => {
  const map = bigMap('d.weights');
  const canvas = map.canvas as unknown as FakeCanvas;
  assert.equal(canvas.dataset.rowAxis, 'queries');
  assert.equal(canvas.dataset.colAxis, 'keys');
  map.dispose();
});
