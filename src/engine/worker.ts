// The engine's worker thread: one Analyzer (with its caches) answering one request at a time.
import { parentPort } from 'node:worker_threads';
import { Analyzer, isUserFacing, type WorkerReply, type WorkerRequest } from './pipeline';

const analyzer = new Analyzer();
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

port.on('message', (message: WorkerRequest) => {
  const { id } = message;
  const reply = (answer: WorkerReply) => port.postMessage(answer);
  try {
    const hooks = { onProgress: (stage: string) => reply({ id, type: 'progress', stage }) };
    const result = message.op === 'analyze' ? analyzer.analyze(message.request, hooks) : analyzer.tokenize(message.request, hooks);
    reply({ id, type: 'result', result });
  } catch (err) {
    const userFacing = isUserFacing(err);
    const message = err instanceof Error ? err.message : String(err);
    reply({ id, type: 'error', message: userFacing ? message : `internal error: ${message}`, userFacing });
    if (!userFacing) console.error('[llm101 engine]', err);
  }
});
