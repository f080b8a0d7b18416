// The entry VS Code's extension host loads (extensionTestsPath): runs every *.test.js beside it.
import * as path from 'node:path';
import * as fs from 'node:fs';
import Mocha from 'mocha';
import * as vscode from 'vscode';

export async function run(): Promise<void> {
  // The suites start from seeded, untrained weights (sizes they choose through the settings); the
  // default, the bundled poems model, has its own test, which removes this user setting.
  await vscode.workspace.getConfiguration('llm101').update('weightsPath', 'seeded', vscode.ConfigurationTarget.Global);
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000 });
  for (const file of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} tests failed`)) : resolve()));
  });
}
