// A thread of the engine process (engineProcess.ts): one Analyzer with its caches (corpus,
// tokenizer, weights) and the traces it computed, answering one request at a time. The engine
// process runs two of these: one for analyses (and later training), one for the status bar's
// token counts, so a count never waits behind a long analysis.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError, EngineError, SharedCancel } from '../engine/config';
import { findMatrix, matrixToCsv } from '../engine/csv';
import { Analyzer, isUserFacing, type TraceResult } from '../engine/pipeline';
import { traceToJson, writeJson } from '../engine/serialize';
import { cellWindow, panelGroup, toPanelTrace } from '../display/panelTrace';
import type { EngineReply, EngineRequest, EngineResults } from '../shared/engineProtocol';
import { TraceStore } from './traceStore';

export interface EngineThreadData {
  bpeCacheDir?: string;
  /** The cancel table: CANCEL_CELLS Int32 cells (SharedCancel, cancelRequest). */
  cancel: SharedArrayBuffer;
  /** Bytes of kept traces beyond which older traces are evicted (the newest one is always kept). */
  traceBudgetBytes?: number;
}

/** Kept traces may take up to this much beside the newest one. */
export const TRACE_BUDGET_BYTES = 1.5 * 2 ** 30;

const data = workerData as EngineThreadData;
const port = parentPort;
if (!port) throw new Error('engineThread.ts must run in a worker thread');
const cancelCells = new Int32Array(data.cancel);
const analyzer = new Analyzer(data.bpeCacheDir);
const traces = new TraceStore<TraceResult>(data.traceBudgetBytes ?? TRACE_BUDGET_BYTES);

// nextToken and generate are answered once the model runs in the pipeline (next commit).
type Handled = Exclude<EngineRequest['op'], 'nextToken' | 'generate'>;
type Handlers = { [Op in Handled]: (request: Extract<EngineRequest, { op: Op }>, progress: (stage: string) => void) => EngineResults[Op] };

const kept = (traceId: number): TraceResult => {
  const result = traces.get(traceId);
  if (!result) throw new EngineError(`trace ${traceId} is no longer kept; analyze the text again`);
  return result;
};

const handlers: Handlers = {
  analyze({ id, traceId, request }, progress) {
    const result = analyzer.analyze(request, { signal: new SharedCancel(cancelCells, id), onProgress: progress });
    if (result.kind !== 'trace') return result;
    traces.put(traceId, result);
    return {
      kind: 'trace', traceId, panel: toPanelTrace(result, { mapsAsCodes: true }), elapsedMs: result.elapsedMs,
      ...(result.weightsPath !== undefined && { weightsPath: result.weightsPath }),
    };
  },
  tokenize({ id, request }) {
    return analyzer.tokenize(request, { signal: new SharedCancel(cancelCells, id) });
  },
  group({ traceId, group }) {
    const data = panelGroup(kept(traceId).trace, group);
    return data ? { data } : null;
  },
  cells({ traceId, paths, r0, c0, rows, cols }) {
    return cellWindow(kept(traceId).trace, paths, r0, c0, rows, cols) ?? null;
  },
  export({ traceId, format, matrix, file }) {
    const { trace } = kept(traceId);
    // In chunks: a long text's JSON is larger than the longest string V8 can hold.
    const chunks: Buffer[] = [];
    let written = 0;
    const fd = file !== undefined ? fs.openSync(file, 'w') : undefined;
    const write = (text: string) => {
      const chunk = Buffer.from(text, 'utf8');
      written += chunk.length;
      if (fd !== undefined) fs.writeSync(fd, chunk);
      else chunks.push(chunk);
    };
    try {
      if (format === 'json') {
        writeJson(traceToJson(trace), write);
      } else {
        const found = matrix === undefined ? undefined : findMatrix(trace, matrix);
        if (!found) throw new EngineError(`the trace has no matrix "${matrix ?? ''}"`);
        write(matrixToCsv(found, trace));
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return fd !== undefined ? { written } : { bytes: new Uint8Array(Buffer.concat(chunks)), written };
  },
  release({ traceId }) {
    return { released: traces.release(traceId) };
  },
  stats() {
    const usage = process.resourceUsage();
    return { rss: process.memoryUsage.rss(), peakRss: usage.maxRSS * 1024, traces: traces.size, traceBytes: traces.bytes };
  },
};

port.on('message', (message: EngineRequest) => {
  const { id } = message;
  const reply = (answer: EngineReply) => port.postMessage(answer);
  try {
    const handler = handlers[message.op as Handled] as ((m: EngineRequest, progress: (stage: string) => void) => unknown) | undefined;
    if (!handler) throw new Error(`the engine does not answer ${message.op} yet`);
    const result = handler(message, (stage) => reply({ id, type: 'progress', stage }));
    reply({ id, type: 'result', result });
  } catch (err) {
    const cancelled = err instanceof CancelledError;
    const userFacing = isUserFacing(err);
    const text = err instanceof Error ? err.message : String(err);
    reply({ id, type: 'error', message: userFacing ? text : `internal error: ${text}`, userFacing, cancelled });
    if (!userFacing) console.error('[llm101 engine]', err);
  }
});
