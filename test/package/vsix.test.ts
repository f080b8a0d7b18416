// Builds the .vsix with @vscode/vsce (offline) and checks what it holds: what runs, nothing else.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const vsix = path.join(root, 'dist-vsix', 'llm101-playground.vsix');

/** File names from a zip's central directory (a .vsix is a zip), read without unzip. */
function zipEntries(bytes: Buffer): string[] {
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65_557); i--) {
    if (bytes.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  assert.ok(eocd >= 0, 'not a zip file');
  const count = bytes.readUInt16LE(eocd + 10);
  let at = bytes.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50, 'bad central directory entry');
    const nameLength = bytes.readUInt16LE(at + 28);
    const extra = bytes.readUInt16LE(at + 30);
    const comment = bytes.readUInt16LE(at + 32);
    names.push(bytes.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

test('npm run package makes a .vsix holding only dist/, media/, README, LICENSE and the manifest', () => {
  fs.rmSync(vsix, { force: true });
  execFileSync('npm', ['run', 'package', '--silent'], { cwd: root, stdio: 'pipe' });
  const entries = zipEntries(fs.readFileSync(vsix)).filter((e) => e.startsWith('extension/')).map((e) => e.slice('extension/'.length));
  // vsce renames README.md to readme.md and LICENSE to LICENSE.txt.
  const has = (file: string) => entries.some((e) => e.toLowerCase() === file.toLowerCase());
  const required = ['package.json', 'README.md', 'LICENSE.txt', 'dist/extension.js', 'dist/engine.js', 'dist/engineThread.js', 'dist/kernelHelper.js', 'dist/cli.js', 'dist/webview.js', 'dist/training.js', 'dist/compare.js', 'dist/reportHost.js', 'dist/python/model.py', 'media/panel.css', 'media/compare.css'];
  for (const file of required) assert.ok(has(file), `${file} missing from the .vsix`);
  assert.ok(entries.some((e) => e.startsWith('media/corpus/') && e.endsWith('.txt')), 'the bundled poems are missing');
  // a fresh install opens on the trained model its manifest names as the default
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } };
  const model = manifest.contributes.configuration.properties['llm101.weightsPath']?.default;
  assert.equal(model, 'poems');
  assert.ok(has(`media/models/${String(model)}.safetensors`), 'the default bundled model is missing from the .vsix');
  const stray = entries.filter((e) => !/^(dist|media)\//.test(e) && !['package.json', 'readme.md', 'license.txt', 'changelog.md'].includes(e.toLowerCase()));
  assert.deepEqual(stray, [], `unexpected files: ${stray.join(', ')}`);
  for (const forbidden of ['src/', 'test/', 'node_modules/', 'webview/', 'scripts/', '.map']) {
    assert.ok(!entries.some((e) => e.includes(forbidden)), `the .vsix contains ${forbidden}`);
  }
  const size = fs.statSync(vsix).size;
  console.log(`vsix: ${entries.length} files, ${(size / 1024).toFixed(0)} KiB`);
});
