// `llm101 download` and fetchModel against a local server that answers as the Hugging Face Hub
// (test/hub/fakeHub.ts): the redirect to a blob, X-Linked-Etag and X-Linked-Size, Range after a
// cut connection, 404, 401 and a token, a wrong checksum, a repo that is not GPT-2, no network,
// Cancel, too little disk; and the Hugging Face cache fixture read without any network.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, type CliIo } from '../../src/cli';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { fetchModel, hubEndpoint, type FetchModelOptions } from '../../src/hub/fetchModel';
import { findSnapshot, hfHubCacheDir, repoFolderName } from '../../src/hub/hfCache';
import { HubError } from '../../src/hub/hubHttp';
import { gpt2TinyRepo, startFakeHub, type FakeHub } from '../hub/fakeHub';

const FIXTURE_CACHE = path.join(__dirname, '..', 'fixtures', 'hub', 'hf-cache');
const TINY = path.join(__dirname, '..', 'fixtures', 'gpt', 'gpt2-tiny');
const tinyBytes = fs.readFileSync(path.join(TINY, 'model.safetensors'));
const tinySha = crypto.createHash('sha256').update(tinyBytes).digest('hex');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-hub-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
/** An HF cache with nothing in it, so the user's real one never answers for a test. */
const noCache = { HF_HUB_CACHE: path.join(scratch, 'empty-hf-cache') };

let hub: FakeHub;
before(async () => {
  hub = await startFakeHub({
    'llm101-test/gpt2-tiny': gpt2TinyRepo('1'.repeat(40)),
    gpt2: gpt2TinyRepo('2'.repeat(40)),
    'llm101-test/cut': gpt2TinyRepo('3'.repeat(40), { cut: true }),
    'llm101-test/damaged': gpt2TinyRepo('4'.repeat(40), { wrongEtag: true }),
    'llm101-test/gated': gpt2TinyRepo('5'.repeat(40), { gatedToken: 'hf_good' }),
    'llm101-test/llama': {
      ...gpt2TinyRepo('6'.repeat(40)),
      files: { ...gpt2TinyRepo().files, 'config.json': { bytes: Buffer.from('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}'), lfs: false } },
    },
    'llm101-test/huge': gpt2TinyRepo('7'.repeat(40), { hugeSize: true }),
    'llm101-test/stall': gpt2TinyRepo('8'.repeat(40), { stall: true }),
    'llm101-test/no-safetensors': { commit: '9'.repeat(40), files: { 'config.json': gpt2TinyRepo().files['config.json']! } },
  });
});
after(() => hub.close());

let dirs = 0;
function options(extra: Partial<FetchModelOptions> = {}): FetchModelOptions {
  return { endpoint: hub.url, dir: path.join(scratch, `models-${++dirs}`), env: noCache, retries: 3, ...extra };
}

/** Every file under `dir`, relative; a failed download must leave none that is half-written. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

async function rejects(promise: Promise<unknown>, reason: HubError['reason'], message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test('downloads config.json and model.safetensors through the 302, checks the sha256, and keeps the cache layout', async () => {
  const opts = options();
  const seen: number[] = [];
  const model = await fetchModel('llm101-test/gpt2-tiny', { ...opts, onProgress: (p) => seen.push(p.received) });
  assert.equal(model.source, 'download');
  assert.equal(model.sha256, tinySha);
  assert.equal(model.bytes, tinyBytes.length);
  assert.equal(model.path, path.join(opts.dir, 'models--llm101-test--gpt2-tiny', 'snapshots', '1'.repeat(40)));
  assert.deepEqual(fs.readFileSync(path.join(model.path, 'model.safetensors')), tinyBytes);
  assert.equal(fs.readFileSync(path.join(opts.dir, 'models--llm101-test--gpt2-tiny', 'refs', 'main'), 'utf8'), '1'.repeat(40));
  assert.equal(seen.at(-1), tinyBytes.length, 'the last progress report has every byte');
  // the engine reads the folder as it reads any Hugging Face GPT-2 folder
  assert.equal(readGptCheckpoint(model.path).model.config.layers, 2);
  // the blob came from the CDN's host, without the token header (none set here) and without Range
  const blobRequests = hub.requests.filter((r) => r.path.startsWith(`/blobs/${tinySha}`));
  assert.ok(blobRequests.length >= 1 && blobRequests.every((r) => r.range === undefined));

  // the second time nothing is fetched: the folder is found by its ref
  const before = hub.requests.length;
  const again = await fetchModel('llm101-test/gpt2-tiny', opts);
  assert.equal(again.source, 'cache');
  assert.equal(again.path, model.path);
  assert.equal(again.sha256, tinySha);
  assert.equal(hub.requests.length, before, 'a model on disk needs no request');
});

test("the user's Hugging Face cache is used without any network (HF_HUB_CACHE, HF_HOME/hub, ~/.cache)", async () => {
  assert.equal(hfHubCacheDir({ HF_HUB_CACHE: '/a' }), '/a');
  assert.equal(hfHubCacheDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
  assert.equal(hfHubCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(repoFolderName('gpt2'), 'models--gpt2');
  // a closed port as the endpoint: any request would fail
  const model = await fetchModel('llm101-test/gpt2-tiny', { ...options({ endpoint: 'http://127.0.0.1:9' }), env: { HF_HUB_CACHE: FIXTURE_CACHE } });
  assert.equal(model.source, 'cache');
  assert.equal(model.sha256, tinySha, 'the blob name is the sha256');
  assert.equal(model.commit, '0123456789abcdef0123456789abcdef01234567');
  assert.equal(readGptCheckpoint(model.path).model.config.dim, 32);
  // a revision that is a commit names its snapshot directly; an unknown branch is not there
  assert.ok(findSnapshot(FIXTURE_CACHE, 'llm101-test/gpt2-tiny', model.commit));
  assert.equal(findSnapshot(FIXTURE_CACHE, 'llm101-test/gpt2-tiny', 'other-branch'), undefined);
});

test('a connection cut mid-file resumes with a Range request and ends with the right bytes', async () => {
  const model = await fetchModel('llm101-test/cut', options());
  assert.equal(model.sha256, tinySha);
  const ranges = hub.requests.filter((r) => r.path.startsWith(`/blobs/${tinySha}`) && r.range !== undefined).map((r) => r.range);
  assert.ok(ranges.some((r) => r !== 'bytes=0-' && /^bytes=\d+-$/.test(r ?? '')), `expected a resumed range, got ${JSON.stringify(ranges)}`);
});

test('a wrong checksum, a repo that is not GPT-2, and a repo without safetensors leave nothing behind', async () => {
  const damaged = options();
  await rejects(fetchModel('llm101-test/damaged', damaged), 'checksum', /sha256 .* X-Linked-Etag/);
  assert.deepEqual(filesUnder(damaged.dir), []);

  const llama = options();
  const before = hub.requests.length;
  await rejects(fetchModel('llm101-test/llama', llama), 'not-gpt2', /not a GPT-2-style model: its config.json says model_type "llama"/);
  assert.ok(hub.requests.slice(before).every((r) => r.path.endsWith('config.json')), 'the weights of another architecture are never fetched');
  assert.deepEqual(filesUnder(llama.dir), []);

  const bin = options();
  await rejects(fetchModel('llm101-test/no-safetensors', bin), 'not-gpt2', /has no model\.safetensors/);
  assert.deepEqual(filesUnder(bin.dir), []);
});

test('404, 401 and the token: each says what to do; the token goes to the hub, not to the blob host', async () => {
  await rejects(fetchModel('llm101-test/nothing-here', options()), 'not-found', /no model llm101-test\/nothing-here on 127\.0\.0\.1:\d+ .*check the name/);
  await rejects(fetchModel('llm101-test/gpt2-tiny', options({ revision: 'v9' })), 'not-found', /has no revision "v9"/);
  await rejects(fetchModel('llm101-test/gated', options()), 'access', /gated or private: it needs access and a token .* HF_TOKEN/);
  await rejects(fetchModel('llm101-test/gated', options({ token: 'hf_wrong' })), 'access', /the token given has no access yet/);
  const before = hub.requests.length;
  const model = await fetchModel('llm101-test/gated', options({ token: 'hf_good' }));
  assert.equal(model.sha256, tinySha);
  const sent = hub.requests.slice(before);
  assert.ok(sent.filter((r) => r.path.includes('/resolve/')).every((r) => r.authorization === 'Bearer hf_good'));
  assert.ok(sent.filter((r) => r.path.startsWith('/blobs/')).every((r) => r.authorization === undefined), 'the token must not follow the redirect to another host');
  await rejects(fetchModel('not a repo!', options()), 'bad-input', /not a Hugging Face repo id/);
});

test('offline, too little disk space, and Cancel: one clear message and no half-written file', async () => {
  await rejects(fetchModel('gpt2', options({ endpoint: 'http://127.0.0.1:9' })), 'offline', /cannot reach 127\.0\.0\.1:9 \(ECONNREFUSED\).*Hugging Face cache/);

  const huge = options();
  await rejects(fetchModel('llm101-test/huge', huge), 'disk-full', /not enough disk space .* needs 1000000000\.0 MB/);
  assert.deepEqual(filesUnder(huge.dir), []);

  const stalled = options();
  const controller = new AbortController();
  const pending = fetchModel('llm101-test/stall', { ...stalled, signal: controller.signal, onProgress: (p) => p.received > 0 && controller.abort() });
  await rejects(pending, 'cancelled', /cancelled/);
  assert.deepEqual(filesUnder(stalled.dir), []);
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

test('llm101 download: the folder on the last stdout line, --json, and exit 2 with one stderr line', async () => {
  const dir = path.join(scratch, 'cli');
  const saved = { ...process.env };
  process.env.HF_HUB_CACHE = noCache.HF_HUB_CACHE;
  delete process.env.HF_TOKEN;
  try {
    const first = await cli(['download', 'gpt2', '--endpoint', hub.url, '--dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    const folder = first.stdout.trim().split('\n').at(-1) ?? '';
    assert.equal(folder, path.join(dir, 'models--gpt2', 'snapshots', '2'.repeat(40)));
    assert.match(first.stderr, /gpt2\/model\.safetensors: .* MB/);
    assert.match(first.stderr, /downloaded 0\.1 MB .* sha256 checked/);

    const json = await cli(['download', 'gpt2', '--endpoint', hub.url, '--dir', dir, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { path: folder, source: 'cache', bytes: tinyBytes.length, sha256: tinySha });

    // HF_ENDPOINT is the endpoint when --endpoint is not given
    process.env.HF_ENDPOINT = hub.url;
    assert.equal(hubEndpoint(undefined), hub.url);
    const viaEnv = await cli(['download', 'llm101-test/gpt2-tiny', '--dir', dir, '--json']);
    assert.equal(JSON.parse(viaEnv.stdout).source, 'download', viaEnv.stderr);

    for (const [args, message] of [
      [['download', 'llm101-test/nothing-here', '--dir', dir], /^llm101: no model llm101-test\/nothing-here on/],
      [['download', 'llm101-test/gated', '--dir', dir], /^llm101: llm101-test\/gated is gated or private/],
      [['download', 'llm101-test/llama', '--dir', dir], /^llm101: llm101-test\/llama is not a GPT-2-style model/],
      [['download', '--dir', dir], /^llm101: which model\? give a repo id/],
      [['download', 'a', 'b'], /^llm101: llm101 download takes one REPO, got 2/],
      [['download', 'gpt2', '--endpoint', 'http://127.0.0.1:9', '--dir', path.join(scratch, 'cli-offline')], /^llm101: cannot reach 127\.0\.0\.1:9/],
    ] as const) {
      const result = await cli([...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
  } finally {
    process.env = saved;
  }
});
