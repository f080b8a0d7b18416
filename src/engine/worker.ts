// The engine's worker thread: one Analyzer (with its caches) answering one request at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { Analyzer, isUserFacing, type WorkerReply, type WorkerRequest } from './pipeline';

const analyzer = new Analyzer((workerData as { bpeCacheDir?: string } | null)?.bpeCacheDir);
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

/** Every plain ArrayBuffer under `value`, once, except those in `keep`. */
function transferable(value: unknown, keep: ReadonlySet<ArrayBufferLike>, found = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && !keep.has(buffer)) found.add(buffer);
  } else if (value && typeof value === 'object') {
    for (const child of Object.values(value)) transferable(child, keep, found);
  }
  return [...found];
}

port.on('message', (message: WorkerRequest) => {
  const { id } = message;
  const reply = (answer: WorkerReply) => port.postMessage(answer);
  try {
    const hooks = { onProgress: (stage: string) => reply({ id, type: 'progress', stage }) };
    const result = message.op === 'analyze' ? analyzer.analyze(message.request, hooks) : analyzer.tokenize(message.request, hooks);
    // The trace's buffers move to the extension host instead of being copied: a long text's
    // trace is hundreds of MB, and the worker keeps none of it (only the cached weights, whose
    // buffers stay here).
    port.postMessage({ id, type: 'result', result } satisfies WorkerReply, transferable(result, analyzer.cachedBuffers()));
  } catch (err) {
    const userFacing = isUserFacing(err);
    const message = err instanceof Error ? err.message : String(err);
    reply({ id, type: 'error', message: userFacing ? message : `internal error: ${message}`, userFacing });
    if (!userFacing) console.error('[llm101 engine]', err);
  }
});
