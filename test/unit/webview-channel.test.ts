// The host's channel to a webview: what is posted before 'ready' waits for it (the newest of each
// type, or the panel's replay), what the webview sends is checked by the contract's schema, and a
// closed channel neither sends nor hands on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebviewChannel, type WebviewPort } from '../../src/panels/webviewChannel';
import { parseCompareWebviewMessage, type CompareHostMessage, type CompareWebviewMessage } from '../../src/shared/compareProtocol';

/** A webview stand-in: records what the host posts, and lets the test send what the webview would. */
function fakeWebview() {
  const posted: unknown[] = [];
  let listener: ((raw: unknown) => void) | undefined;
  const port: WebviewPort = {
    postMessage: async (message: unknown) => {
      posted.push(message);
      return true;
    },
    onDidReceiveMessage: (l: (raw: unknown) => unknown) => {
      listener = l;
      return { dispose: () => (listener = undefined) };
    },
  };
  return { port, posted, send: (raw: unknown) => listener?.(raw) };
}

test('before ready the newest message of each type waits; ready sends them in order; after ready each is sent at once', () => {
  const view = fakeWebview();
  const received: CompareWebviewMessage[] = [];
  const disposables: { dispose(): void }[] = [];
  const channel = new WebviewChannel<CompareHostMessage, CompareWebviewMessage>(view.port, {
    name: 'compare view', parse: parseCompareWebviewMessage, receive: (m) => received.push(m),
  }, disposables);
  channel.post({ type: 'busy', stage: 'starting' });
  channel.post({ type: 'error', message: 'first' });
  channel.post({ type: 'busy', stage: 'model B' });
  assert.deepEqual(view.posted, [], 'nothing reaches a webview that is still loading');
  assert.equal(channel.ready, false);
  view.send({ type: 'ready' });
  assert.equal(channel.ready, true);
  assert.deepEqual(view.posted, [{ type: 'error', message: 'first' }, { type: 'busy', stage: 'model B' }]);
  assert.deepEqual(received, [], "'ready' is the channel's own");
  channel.post({ type: 'busy', stage: 'drawing' });
  assert.deepEqual(view.posted.at(-1), { type: 'busy', stage: 'drawing' });
  view.send({ type: 'log', level: 'info', message: 'hello' });
  view.send({ type: 'log', level: 'loud', message: 'not a level' });
  view.send({ type: 'pickOther', extra: 1 });
  view.send('not an object');
  assert.deepEqual(received, [{ type: 'log', level: 'info', message: 'hello' }, { type: 'pickOther' }], 'malformed messages are dropped, extra fields stripped');
  for (const d of disposables.splice(0)) d.dispose();
  channel.post({ type: 'busy', stage: 'after close' });
  view.send({ type: 'pickOther' });
  assert.equal(view.posted.length, 3, 'a closed channel posts nothing');
  assert.equal(received.length, 2, 'and hands nothing on');
});

test("with a replay, a webview that says ready (again, after a reload) gets the panel's whole state, not a queue", () => {
  const view = fakeWebview();
  const state: CompareHostMessage[] = [{ type: 'busy', stage: 'one' }, { type: 'busy', stage: 'two' }];
  const channel = new WebviewChannel<CompareHostMessage, CompareWebviewMessage>(view.port, {
    name: 'compare view', parse: parseCompareWebviewMessage, receive: () => undefined, replay: () => state,
  }, []);
  channel.post({ type: 'busy', stage: 'two' });
  view.send({ type: 'ready' });
  assert.deepEqual(view.posted, state, 'what was posted before ready is in the replay, sent once');
  state.push({ type: 'busy', stage: 'three' });
  channel.post(state[2]!);
  view.send({ type: 'ready' });
  assert.deepEqual(view.posted, [...state, ...state]);
});
