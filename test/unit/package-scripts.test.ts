// Every file an npm script runs exists (`npm run test:unit` once named a script that did not).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

test('every file named by an npm script exists', () => {
  const missing: string[] = [];
  for (const [name, command] of Object.entries(manifest.scripts)) {
    // what follows node, bash or python3 and looks like a path in the repository
    for (const match of command.matchAll(/(?:^|\s)(?:node|bash|\/usr\/bin\/python3)\s+((?:--\S+\s+)*)([\w./-]+\.(?:mjs|cjs|js|sh|py))/g)) {
      const file = match[2]!;
      if (file.startsWith('dist/')) continue; // built by esbuild.mjs
      if (!fs.existsSync(path.join(root, file))) missing.push(`${name}: ${file}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the unit tests run by npm run test:unit are the ones npm test runs', () => {
  const testAll = fs.readFileSync(path.join(root, 'scripts', 'test-all.sh'), 'utf8');
  const unit = /step unit (.+)$/m.exec(testAll)?.[1];
  assert.ok(unit, 'scripts/test-all.sh has a unit step');
  assert.ok(manifest.scripts['test:unit']?.endsWith(unit), `test:unit ends with "${unit}"`);
});
