// Activation is a list of registrations; each command is a small function elsewhere.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { EngineClient } from './host/engineClient';
import { PlaygroundPanel, VIEW_TYPE } from './panels/PlaygroundPanel';
import { analyzeSelection, openPlayground } from './commands/analyze';
import { SECTION } from './settings';

export interface Llm101Api {
  /** The open panel, for tests and other extensions. */
  panel(): PlaygroundPanel | undefined;
}

export function activate(context: vscode.ExtensionContext): Llm101Api {
  const engine = new EngineClient(path.join(context.extensionPath, 'dist'));
  context.subscriptions.push({ dispose: () => engine.dispose() });

  const commands: Record<string, (...args: unknown[]) => unknown> = {
    'llm101.analyzeSelection': () => analyzeSelection(context, engine),
    'llm101.openPlayground': (section?: unknown) => openPlayground(context, engine, section),
  };
  for (const [id, run] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  }

  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => PlaygroundPanel.revive(panel, context, engine, state),
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) void PlaygroundPanel.current?.rerun();
    }),
  );
  return { panel: () => PlaygroundPanel.current };
}

export function deactivate(): void {
  PlaygroundPanel.current?.dispose();
}
