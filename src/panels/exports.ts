// Saving what the panel shows: the visible map as PNG (drawn by the webview), the whole trace as
// JSON and one matrix as CSV (written by the engine, which keeps the trace: a long text's JSON is
// hundreds of MB, which the extension host never holds).
import * as vscode from 'vscode';
import type { EngineClient } from '../host/engineClient';

async function pickTarget(defaultName: string, filters: Record<string, string[]>): Promise<vscode.Uri | undefined> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.env.HOME ?? '/');
  return vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(base, defaultName), filters });
}

function saved(target: vscode.Uri): void {
  void vscode.window.showInformationMessage(`LLM 101: saved ${vscode.workspace.asRelativePath(target)}`);
}

const safeName = (name: string) => name.replace(/[^\w.-]+/g, '-').slice(0, 80) || 'map';

export async function exportPng(name: string, dataUrl: string): Promise<void> {
  const target = await pickTarget(`${safeName(name)}.png`, { 'PNG image': ['png'] });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
  saved(target);
}

/**
 * The engine writes a local file itself; for another file system (a remote workspace) it sends
 * the bytes and the host writes them through VS Code.
 */
async function exportFromEngine(
  engine: EngineClient, traceId: number, format: 'json' | 'csv', defaultName: string, filters: Record<string, string[]>, matrix?: string,
): Promise<void> {
  const target = await pickTarget(defaultName, filters);
  if (!target) return;
  const local = target.scheme === 'file';
  const { bytes } = await engine.export(traceId, format, { ...(matrix !== undefined && { matrix }), ...(local && { file: target.fsPath }) });
  if (!local && bytes) await vscode.workspace.fs.writeFile(target, bytes);
  saved(target);
}

export function exportJson(engine: EngineClient, traceId: number): Promise<void> {
  return exportFromEngine(engine, traceId, 'json', 'llm101-trace.json', { JSON: ['json'] });
}

/** `path` names a matrix in the trace, e.g. "causal.weights" or "multiHead.heads.3.context". */
export function exportCsv(engine: EngineClient, traceId: number, path: string): Promise<void> {
  return exportFromEngine(engine, traceId, 'csv', `${safeName(path)}.csv`, { CSV: ['csv'] }, path);
}
