// The host <-> webview contract: validators refuse what is malformed, packing is lossless.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isLowerTriangle, packLower, parseHostMessage, parseWebviewMessage, unpackLower } from '../../src/shared/protocol';
import type { Matrix } from '../../src/engine/types';

function causal(T: number, above: number): Matrix {
  const data = new Float32Array(T * T);
  for (let r = 0; r < T; r++) for (let c = 0; c < T; c++) data[r * T + c] = c > r ? above : Math.fround(r * 1.5 - c / 7);
  return { rows: T, cols: T, data };
}

test('lower triangles pack to T(T+1)/2 values and unpack to the same matrix', () => {
  for (const T of [1, 2, 7, 64]) {
    const masked = causal(T, -Infinity);
    const packed = packLower(masked, 'masked');
    assert.equal(packed.lower.length, (T * (T + 1)) / 2);
    assert.ok(isLowerTriangle(packed));
    assert.deepEqual(Array.from(unpackLower(packed).data), Array.from(masked.data));
    const zero = causal(T, 0);
    assert.deepEqual(Array.from(unpackLower(packLower(zero, 'zero')).data), Array.from(zero.data));
  }
  assert.equal(isLowerTriangle({ rows: 3, cols: 3, lower: new Float32Array(5), above: 'zero' }), false, 'wrong length');
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

test('host messages: a group with a malformed matrix is refused', () => {
  const good = { type: 'group', runId: 1, group: 'causal', data: { weights: packLower(causal(4, 0), 'zero'), context: { rows: 4, cols: 2, data: new Float32Array(8) } } };
  assert.ok(parseHostMessage(good));
  const short = { ...good, data: { context: { rows: 4, cols: 2, data: new Float32Array(7) } } };
  assert.equal(parseHostMessage(short), undefined);
  assert.equal(parseHostMessage({ type: 'reveal', section: 'nowhere' }), undefined);
  assert.ok(parseHostMessage({ type: 'reveal', section: 'layernorm' }));
});
