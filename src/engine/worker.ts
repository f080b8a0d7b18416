// The engine's worker thread: one Analyzer (with its caches) answering one request at a time.
import { parentPort } from 'node:worker_threads';
import { Analyzer, isUserFacing, type AnalyzeRequest, type WorkerReply } from './pipeline';

const analyzer = new Analyzer();
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

port.on('message', ({ id, request }: { id: number; request: AnalyzeRequest }) => {
  const reply = (message: WorkerReply) => port.postMessage(message);
  try {
    const result = analyzer.analyze(request, { onProgress: (stage) => reply({ id, type: 'progress', stage }) });
    reply({ id, type: 'result', result });
  } catch (err) {
    const userFacing = isUserFacing(err);
    const message = err instanceof Error ? err.message : String(err);
    reply({ id, type: 'error', message: userFacing ? message : `internal error: ${message}`, userFacing });
    if (!userFacing) console.error('[llm101 engine]', err);
  }
});
