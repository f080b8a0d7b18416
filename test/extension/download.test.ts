// Download Model… in the extension host against a local server that answers as the Hugging Face
// Hub (test/hub/fakeHub.ts): the model arrives, llm101.weightsPath points at it and the panel's
// next trace runs on it, named by its repo id; a repo that is not there changes nothing.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { gpt2VocabRepo, startFakeHub, type FakeHub } from '../hub/fakeHub';
import { analyzeInEditor } from './host';

suite('Download Model', () => {
  let hub: FakeHub;
  const savedCache = process.env.HF_HUB_CACHE;
  suiteSetup(async () => {
    hub = await startFakeHub({ 'llm101-test/gpt2-vocab': gpt2VocabRepo() });
    // an empty Hugging Face cache: the model must come from the local hub
    process.env.HF_HUB_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-hf-cache-'));
    await vscode.workspace.getConfiguration('llm101').update('hubEndpoint', hub.url, vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    const cfg = vscode.workspace.getConfiguration('llm101');
    for (const key of ['hubEndpoint', 'weightsPath']) await cfg.update(key, undefined, vscode.ConfigurationTarget.Workspace);
    if (savedCache === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = savedCache;
    await hub.close();
  });

  test('downloads from the hub, becomes llm101.weightsPath, and the panel runs it named by its repo id', async () => {
    const folder = await vscode.commands.executeCommand<string | undefined>('llm101.downloadModel', { repo: 'llm101-test/gpt2-vocab' });
    assert.ok(folder, 'the command resolves to the model folder');
    assert.ok(fs.existsSync(path.join(folder, 'model.safetensors')) && fs.existsSync(path.join(folder, 'config.json')));
    assert.equal(vscode.workspace.getConfiguration('llm101').get('weightsPath'), folder);
    assert.ok(hub.requests.some((r) => r.path.startsWith('/blobs/')), 'the weights came from the hub');

    const { p } = await analyzeInEditor('The tide returns to the harbour.');
    const end = Date.now() + 60_000;
    while (Date.now() < end && !(p.lastResult?.kind === 'trace' && p.lastResult.weightsPath === folder)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = p.lastResult;
    assert.ok(result?.kind === 'trace' && result.model && 'config' in result.model, `the model ran (${p.lastError ?? 'no error'})`);
    assert.equal(result.model.source, 'llm101-test/gpt2-vocab');
    assert.equal(result.config.tokenizer, 'gpt2', "a GPT-2 checkpoint brings GPT-2's tokenizer");
  });

  test('a repo the hub does not have leaves the model as it was', async () => {
    const before = vscode.workspace.getConfiguration('llm101').get('weightsPath');
    const folder = await vscode.commands.executeCommand<string | undefined>('llm101.downloadModel', { repo: 'llm101-test/not-there' });
    assert.equal(folder, undefined);
    assert.equal(vscode.workspace.getConfiguration('llm101').get('weightsPath'), before);
  });
});
