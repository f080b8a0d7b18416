// Saving what the panel shows: the visible map as PNG, the whole trace as JSON, one matrix as CSV.
import * as vscode from 'vscode';
import type { Trace } from '../engine/types';
import { findMatrix, matrixToCsv } from '../engine/csv';
import { traceToJson, writeJson } from '../engine/serialize';

async function saveAs(defaultName: string, filters: Record<string, string[]>, bytes: Uint8Array): Promise<void> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.env.HOME ?? '/');
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(base, defaultName), filters });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, bytes);
  void vscode.window.showInformationMessage(`LLM 101: saved ${vscode.workspace.asRelativePath(target)}`);
}

const safeName = (name: string) => name.replace(/[^\w.-]+/g, '-').slice(0, 80) || 'map';

export async function exportPng(name: string, dataUrl: string): Promise<void> {
  const bytes = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
  await saveAs(`${safeName(name)}.png`, { 'PNG image': ['png'] }, bytes);
}

export async function exportJson(trace: Trace): Promise<void> {
  // In chunks: a long text's trace is larger than the longest string V8 can hold.
  const chunks: Buffer[] = [];
  writeJson(traceToJson(trace), (chunk) => chunks.push(Buffer.from(chunk, 'utf8')));
  await saveAs('llm101-trace.json', { JSON: ['json'] }, Buffer.concat(chunks));
}

/** `path` names a matrix in the trace, e.g. "causal.weights" or "multiHead.heads.3.context". */
export async function exportCsv(trace: Trace, path: string): Promise<void> {
  const matrix = findMatrix(trace, path);
  if (!matrix) {
    void vscode.window.showErrorMessage(`LLM 101: the trace has no matrix "${path}"`);
    return;
  }
  await saveAs(`${safeName(path)}.csv`, { CSV: ['csv'] }, Buffer.from(matrixToCsv(matrix, trace), 'utf8'));
}
