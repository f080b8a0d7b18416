// test/fixtures/hub/hf-cache: a Hugging Face cache folder as huggingface_hub writes one
// (file_download.py): models--{org}--{name}/blobs/{etag} holds each file once, named by its
// sha256 (LFS files) or git blob sha1 (small files); snapshots/{commit}/{file} links to it; and
// refs/main holds the commit. The model is gen_gpt_fixtures.py's gpt2-tiny (GPT-2's layout).
//   node scripts/make-hub-fixtures.mjs
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'test', 'fixtures', 'gpt', 'gpt2-tiny');
const repoDir = path.join(root, 'test', 'fixtures', 'hub', 'hf-cache', 'models--llm101-test--gpt2-tiny');
/** A made-up commit hash: any 40 hex digits name a snapshot. */
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

fs.rmSync(repoDir, { recursive: true, force: true });
fs.mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
fs.mkdirSync(path.join(repoDir, 'snapshots', COMMIT), { recursive: true });
for (const [name, lfs] of [['config.json', false], ['model.safetensors', true]]) {
  const bytes = fs.readFileSync(path.join(source, name));
  const etag = lfs
    ? crypto.createHash('sha256').update(bytes).digest('hex')
    : crypto.createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  fs.writeFileSync(path.join(repoDir, 'blobs', etag), bytes);
  fs.symlinkSync(path.join('..', '..', 'blobs', etag), path.join(repoDir, 'snapshots', COMMIT, name));
}
fs.writeFileSync(path.join(repoDir, 'refs', 'main'), COMMIT);
console.log(`wrote ${path.relative(root, repoDir)} (commit ${COMMIT})`);
