// "Download Model…": a GPT-2-style model from the Hugging Face Hub becomes the playground's model.
// The user's Hugging Face cache is used when it has the model; otherwise the files arrive in the
// extension's global storage with progress (MB, MB/s, time left) and Cancel in a notification.
// The setting changes only when the model is complete and checked.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { fetchModel, hubEndpoint, type FetchedModel } from '../hub/fetchModel';
import { repoIdProblem } from '../hub/hfCache';
import { HubError, describeProgress } from '../hub/hubHttp';
import { SECTION } from '../settings';

/** The GPT-2 models learners ask for, with what each costs to fetch. */
const KNOWN_REPOS = [
  { repo: 'gpt2', detail: "GPT-2 small, 124M parameters, 12 layers × 12 heads, dim 768 (548 MB): the book's chapter 5 model" },
  { repo: 'distilgpt2', detail: 'a 6-layer GPT-2 distilled from GPT-2 small, 82M parameters (353 MB): faster maps' },
  { repo: 'gpt2-medium', detail: 'GPT-2 medium, 355M parameters, 24 layers × 16 heads, dim 1024 (1.5 GB)' },
] as const;

/** What a caller (a test, a keybinding's args) may pass to skip the questions. */
export interface DownloadOptions {
  repo?: string;
  revision?: string;
}

export function isDownloadOptions(value: unknown): value is DownloadOptions {
  if (typeof value !== 'object' || value === null) return false;
  const { repo, revision } = value as Record<string, unknown>;
  return (repo === undefined || typeof repo === 'string') && (revision === undefined || typeof revision === 'string');
}

async function askRepo(): Promise<string | undefined> {
  const other = { label: '$(edit) Another repo…', detail: 'any Hugging Face repo id (org/name) with config.json and model.safetensors in GPT-2\'s layout', repo: '' };
  const picked = await vscode.window.showQuickPick([...KNOWN_REPOS.map((k) => ({ label: k.repo, detail: k.detail, repo: k.repo })), other], {
    title: 'LLM 101: Download Model from the Hugging Face Hub',
    placeHolder: 'Which GPT-2 model? (the Hugging Face cache is used when it already has it)',
  });
  if (!picked) return undefined;
  if (picked.repo) return picked.repo;
  return vscode.window.showInputBox({
    title: 'LLM 101: Download Model',
    prompt: 'A Hugging Face repo id whose config.json says model_type "gpt2"',
    placeHolder: 'org/name, e.g. openai-community/gpt2',
    validateInput: (value) => (value.trim() ? repoIdProblem(value.trim()) : undefined),
  }).then((value) => value?.trim() || undefined);
}

/**
 * Downloads (or finds) the model and points llm101.weightsPath at its folder. Resolves to the
 * folder, or undefined when the user cancelled or it failed (then the setting is unchanged).
 */
export async function downloadModel(context: vscode.ExtensionContext, options: DownloadOptions = {}): Promise<string | undefined> {
  const repo = options.repo ?? await askRepo();
  if (!repo) return undefined;
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const endpoint = hubEndpoint(cfg.get<string>('hubEndpoint', ''));
  let model: FetchedModel;
  try {
    model = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `LLM 101: ${repo}`, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        progress.report({ message: `looking in the Hugging Face cache, then ${new URL(endpoint).host}…` });
        let shown = 0;
        return fetchModel(repo, {
          endpoint,
          dir: path.join(context.globalStorageUri.fsPath, 'models'),
          ...(options.revision !== undefined && { revision: options.revision }),
          ...(process.env.HF_TOKEN && { token: process.env.HF_TOKEN }),
          signal: controller.signal,
          userAgent: `llm101-vscode/${String(context.extension.packageJSON.version)}`,
          onProgress: (p) => {
            const percent = p.total ? (p.received / p.total) * 100 : 0;
            progress.report({ message: describeProgress(p), increment: percent - shown });
            shown = percent;
          },
        });
      },
    );
  } catch (err) {
    if (err instanceof HubError && err.reason === 'cancelled') {
      void vscode.window.showInformationMessage(`LLM 101: the download of ${repo} was cancelled; nothing was kept and the playground's model is unchanged.`);
    } else {
      void vscode.window.showErrorMessage(`LLM 101: ${err instanceof Error ? err.message : String(err)} (the playground's model is unchanged)`);
    }
    return undefined;
  }
  const scope = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION).update('weightsPath', model.path, scope);
  const how = model.source === 'cache'
    ? `found ${repo} on disk (nothing downloaded)`
    : `downloaded ${repo} (${(model.bytes / 1e6).toFixed(1)} MB, sha256 checked)`;
  void vscode.window.showInformationMessage(`LLM 101: ${how}; it is now the playground's model (llm101.weightsPath).`);
  return model.path;
}
