// The panel's line to the extension host: its messages out, and the exact values of long texts'
// coded maps, asked per block of cells for the run on show.
import type { WebviewMessage } from '../src/shared/protocol';
import { ExactCells } from './cells';
import { state } from './state';
import { hostLine } from './dom';

export const vscode = hostLine<WebviewMessage>();
export const post = vscode.postMessage;

/** Exact values of coded maps (long texts), asked of the host per block of cells. */
export const cells = new ExactCells((ask) => {
  if (state.run) post({ type: 'requestCells', runId: state.run.runId, ...ask });
});

/** Whether the page is the standalone report (no extension behind it). */
export const isReport = () => document.body.dataset.mode === 'report';
