// What the extension-host suites share: the extension's API, a user setting, a bounded poll, and
// Analyze Selection on a text opened in an editor.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Llm101Api } from '../../src/extension';
import type { PlaygroundPanel } from '../../src/panels/PlaygroundPanel';

export const EXT_ID = 'llm101.llm101-playground';

export async function api(): Promise<Llm101Api> {
  const ext = vscode.extensions.getExtension<Llm101Api>(EXT_ID);
  assert.ok(ext, `${EXT_ID} is not installed in the extension host`);
  return ext.activate();
}

/** Writes an llm101 setting in the user's settings (undefined removes it). */
export async function setting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('llm101').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function until<T>(what: string, check: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens `text` in an editor, selects all of it and runs Analyze Selection: the panel and the editor. */
export async function analyzeInEditor(text: string): Promise<{ p: PlaygroundPanel; editor: vscode.TextEditor }> {
  const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  const editor = await vscode.window.showTextDocument(doc);
  editor.selection = new vscode.Selection(doc.positionAt(0), doc.positionAt(text.length));
  await vscode.commands.executeCommand('llm101.analyzeSelection');
  const p = (await api()).panel();
  assert.ok(p, 'Analyze Selection opened the panel');
  return { p, editor };
}
