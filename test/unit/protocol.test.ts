// The host <-> webview contract: validators refuse what is malformed; display codes stay within half a level.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { MAX_CELLS_SIDE, parseHostMessage, parseWebviewMessage } from '../../src/shared/protocol';
import { CODE_DROPPED, CODE_MASKED, MAP_LEVELS, codeAt, codeValues, encodeMap, isMapCodes, levelValue, weightScale } from '../../src/shared/codes';
import { colorOf } from '../../webview/colors';
import { assertClose } from './assertClose';
import type { Matrix } from '../../src/engine/types';

function causal(T: number, above: number): Matrix {
  const data = new Float32Array(T * T);
  for (let r = 0; r < T; r++) for (let c = 0; c < T; c++) data[r * T + c] = c > r ? above : Math.fround(r * 1.5 - c / 7);
  return { rows: T, cols: T, data };
}

test('display codes: each cell decodes to within half a level of its value, on every scale', () => {
  const T = 64;
  const scores = causal(T, -Infinity);
  const coded = encodeMap(scores, { kind: 'diverging' }, { lower: true });
  assert.ok(isMapCodes(coded));
  assert.equal(coded.codes.length, (T * (T + 1)) / 2);
  // The range is that of the finite cells: the masked −∞ above the diagonal takes no part.
  assert.deepEqual([coded.scale.min, coded.scale.max], [0, Math.fround(63 * 1.5)]);
  const halfLevel = (coded.scale.max - coded.scale.min) / (2 * (MAP_LEVELS - 1));
  for (let r = 0; r < T; r++) {
    for (let c = 0; c < T; c++) {
      const code = codeAt(coded, r, c);
      if (c > r) {
        assert.equal(code, CODE_MASKED);
        continue;
      }
      const exact = scores.data[r * T + c]!;
      assertClose(levelValue(coded.scale, code), exact, { atol: halfLevel * 1.0001, label: `(${r}, ${c})` });
    }
  }
  // Log scale: relative error within half a level's ratio; 0 and values below the range go to the bottom.
  const weights: Matrix = { rows: 2, cols: 3, data: Float32Array.from([1e-4, 0.003, 0.5, 0, 1e-9, 1]) };
  const { kind, range } = weightScale(100);
  const logCoded = encodeMap(weights, { kind, range });
  const ratio = (range[1] / range[0]) ** (1 / (2 * (MAP_LEVELS - 1)));
  for (const i of [1, 2, 5]) {
    const back = levelValue(logCoded.scale, logCoded.codes[i]!);
    const exact = weights.data[i]!;
    assert.ok(back / exact <= ratio * 1.0001 && exact / back <= ratio * 1.0001, `${back} for ${exact}`);
  }
  assert.deepEqual([logCoded.codes[3], logCoded.codes[4]], [0, 0]);
});

test('display codes: a weight dropout zeroed is coded dropped; colours match the exact ones', () => {
  const before: Matrix = { rows: 2, cols: 2, data: Float32Array.from([1, 0, 0.4, 0.6]) };
  const after: Matrix = { rows: 2, cols: 2, data: Float32Array.from([0, 0, 0.8, 0]) };
  const { kind, range } = weightScale(2, 0.5);
  const coded = encodeMap(after, { kind, range }, { lower: true, before });
  assert.deepEqual(Array.from(coded.codes), [CODE_DROPPED, Math.round(0.8 / 2 * (MAP_LEVELS - 1)), CODE_DROPPED]);
  assert.equal(codeAt(coded, 0, 1), CODE_MASKED);
  // What the panel paints from a code is, channel by channel, within 2 of the exact value's colour.
  for (const scale of [{ kind: 'sequential', min: 0, max: 2 }, { kind: 'log', min: 1 / 8192, max: 2.5 }, { kind: 'diverging', min: -3, max: 7 }] as const) {
    const values = Array.from({ length: 2001 }, (_, i) => scale.kind === 'log' ? scale.min * (scale.max / scale.min) ** (i / 2000) : scale.min + ((scale.max - scale.min) * i) / 2000);
    const m = encodeMap({ rows: 1, cols: values.length, data: Float32Array.from(values) }, { kind: scale.kind, range: [scale.min, scale.max] });
    values.forEach((v, i) => {
      const exact = colorOf(m.scale, Math.fround(v));
      const shown = colorOf(m.scale, levelValue(m.scale, m.codes[i]!));
      assertClose([...shown].slice(0, 3), [...exact].slice(0, 3), { atol: 2, label: `${scale.kind} ${v} colour` });
    });
  }
});

test('display codes: malformed maps are refused', () => {
  const good = encodeMap(causal(4, 0), { kind: 'diverging' }, { lower: true });
  assert.ok(isMapCodes(good));
  assert.equal(isMapCodes({ ...good, codes: new Uint8Array(16) }), false, 'full length with lower');
  assert.equal(isMapCodes({ ...good, codes: new Float32Array(10) }), false, 'not bytes');
  assert.equal(isMapCodes({ ...good, cols: 5 }), false, 'lower but not square');
  assert.equal(isMapCodes({ ...good, scale: { kind: 'log', min: 0, max: 1 } }), false, 'log from 0');
  assert.equal(isMapCodes({ ...good, scale: { kind: 'rainbow', min: 0, max: 1 } }), false);
  assert.throws(() => encodeMap({ rows: 2, cols: 3, data: new Float32Array(6) }, { kind: 'diverging' }, { lower: true }), /square/);
});

test('cell requests and replies: well-formed ones pass, anything else is refused', () => {
  const ask = { type: 'requestCells', runId: 2, paths: ['causal.maskedScores', 'multiHead.heads.3.weights'], r0: 32, c0: 0, rows: 32, cols: 32 };
  assert.deepEqual(parseWebviewMessage(ask), ask);
  for (const bad of [
    { ...ask, paths: [] }, { ...ask, paths: ['a.b', 'a.c', 'a.d', 'a.e', 'a.f'] }, { ...ask, paths: ['__proto__.x'] }, { ...ask, paths: ['causal'] },
    { ...ask, rows: MAX_CELLS_SIDE + 1 }, { ...ask, cols: 0 }, { ...ask, r0: -1 }, { ...ask, c0: 1.5 }, { ...ask, runId: '2' },
  ]) {
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
  }
  const reply = { type: 'cells', runId: 2, paths: ['causal.weights'], r0: 0, c0: 0, rows: 2, cols: 3, values: [new Float32Array(6)] };
  assert.ok(parseHostMessage(reply));
  assert.equal(parseHostMessage({ ...reply, values: [new Float32Array(5)] }), undefined, 'wrong length');
  assert.equal(parseHostMessage({ ...reply, values: [] }), undefined, 'one array per path');
  assert.equal(parseHostMessage({ ...reply, values: [[0, 0, 0, 0, 0, 0]] }), undefined, 'not a Float32Array');
  // The report's replies: values decoded from codes, one floor per path.
  assert.ok(parseHostMessage({ ...reply, approximate: { floors: [0.001] } }));
  assert.ok(parseHostMessage({ ...reply, approximate: { floors: [-Infinity] } }), 'linear scales have no floor');
  for (const approximate of [true, {}, { floors: [] }, { floors: [0.1, 0.2] }, { floors: ['0.1'] }, { floors: [NaN] }, null]) {
    assert.equal(parseHostMessage({ ...reply, approximate }), undefined, JSON.stringify(approximate));
  }
});

test('webview messages: well-formed ones pass, anything else is refused', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseWebviewMessage({ type: 'setKnob', knob: 'heads', value: 4 }), { type: 'setKnob', knob: 'heads', value: 4 });
  assert.deepEqual(parseWebviewMessage({ type: 'requestGroup', runId: 3, group: 'head:2' }), { type: 'requestGroup', runId: 3, group: 'head:2' });
  for (const bad of [
    null, 'ready', {}, { type: 'nope' }, { type: 'setKnob', knob: 'vocab', value: 1 }, { type: 'setKnob', knob: 'heads', value: NaN },
    { type: 'hoverToken', index: -1 }, { type: 'requestGroup', runId: 1, group: 'weights' }, { type: 'exportPng', name: 'x', dataUrl: 'javascript:1' },
  ]) {
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
  }
});

test('host messages: a group with a malformed matrix or codes is refused', () => {
  const weights = encodeMap(causal(4, 0), weightScale(4), { lower: true });
  const data = { weights, droppedWeights: weights, context: { rows: 4, cols: 2, data: new Float32Array(8) } };
  const good = { type: 'group', runId: 1, group: 'causal', data };
  assert.ok(parseHostMessage(good));
  const short = { ...good, data: { ...data, context: { rows: 4, cols: 2, data: new Float32Array(7) } } };
  assert.equal(parseHostMessage(short), undefined);
  assert.equal(parseHostMessage({ ...good, data: { ...data, weights: { ...weights, codes: weights.codes.subarray(1) } } }), undefined, 'codes cut short');
  assert.equal(parseHostMessage({ ...good, data: { weights, context: data.context } }), undefined, 'a causal group has its weights after dropout');
  // group and data are paired: a head's data is not a causal stage's
  assert.equal(parseHostMessage({ ...good, group: 'head:0' }), undefined);
  assert.ok(parseHostMessage({ ...good, group: 'head:0', data: { droppedWeights: weights } }));
  assert.equal(parseHostMessage({ ...good, group: 'head:x', data: { droppedWeights: weights } }), undefined);
  assert.equal(parseHostMessage({ type: 'reveal', section: 'nowhere' }), undefined);
  assert.ok(parseHostMessage({ type: 'reveal', section: 'layernorm' }));
});

test('codeValues: what the report shows of coded cells, each within half a level, below the floor only at the bottom', () => {
  const T = 40;
  const weights = causal(T, 0);
  for (let i = 0; i < weights.data.length; i++) weights.data[i] = weights.data[i]! > 0 ? Math.fround(1 / (1 + weights.data[i]!)) : 0;
  weights.data[3 * T + 1] = 1e-7; // far below a log scale's bottom (1/(4T))
  const dropped: Matrix = { rows: T, cols: T, data: weights.data.map((w, i) => (i === 5 * T + 2 ? 0 : w)) };
  const { kind, range } = weightScale(T, 0.4);
  const coded = encodeMap(dropped, { kind, range }, { lower: true, before: weights });
  const { values, floor } = codeValues(coded, 2, 0, 6, 4); // rows 2..7, cols 0..3: masked, dropped and bottom cells
  const ratio = (range[1] / range[0]) ** (1 / (2 * (MAP_LEVELS - 1)));
  assertClose(floor, range[0] * ratio, { atol: 1e-12, label: 'the floor is the top of the lowest level' });
  for (let r = 0; r < 6; r++) {
    for (let c = 0; c < 4; c++) {
      const exact = dropped.data[(r + 2) * T + c]!;
      const shown = values[r * 4 + c]!;
      if (c > r + 2 || exact === 0) assert.equal(shown, 0, `(${r + 2}, ${c}) masked or dropped: exactly 0`);
      else if (exact <= floor) assert.ok(shown <= floor, `(${r + 2}, ${c}): ${exact} shown as below ${floor}`);
      else assert.ok(shown > floor && shown / exact <= ratio * 1.0001 && exact / shown <= ratio * 1.0001, `(${r + 2}, ${c}): ${shown} for ${exact}`);
    }
  }
  assert.ok(values[1 * 4 + 1]! <= floor, 'the 1e-7 weight is below the floor');
  assert.equal(codeAt(coded, 5, 2), CODE_DROPPED);
  // Scores: a diverging scale has no floor; masked cells are −∞, as in the trace.
  const scores = causal(T, -Infinity);
  const scoreCodes = encodeMap(scores, { kind: 'diverging' }, { lower: true });
  const window = codeValues(scoreCodes, 0, 0, 3, 3);
  assert.equal(window.floor, -Infinity);
  assert.deepEqual([window.values[1], window.values[2], window.values[5]], [-Infinity, -Infinity, -Infinity]);
  const half = (scoreCodes.scale.max - scoreCodes.scale.min) / (2 * (MAP_LEVELS - 1));
  assertClose(window.values[2 * 3 + 1]!, scores.data[2 * T + 1]!, { atol: half * 1.0001, label: 'score cell (2, 1)' });
});
