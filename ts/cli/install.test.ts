// The packed tarballs install and run where there is no Rust toolchain: `npm pack` output goes
// into an empty folder, `npx netspectra analyze` runs on the native platform package, and again
// on the wasm engine once that package is removed, with the same report.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const capture = join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');

function check(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The report without what legitimately differs between runs: the backend and the time taken. */
/** A JSON report without what differs between runs: the backend, its time, the run id. */
function comparable(json: string): unknown {
  const { backend: _b, elapsedMs: _e, storage, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return { ...rest, storage: { ...(storage as object), run: null } };
}

test('packed tarballs install without cargo and fall back from native to wasm', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-install-'));
  try {
    const tarballs = check(spawnSync(process.execPath, [join(root, 'scripts', 'pack.mjs'), join(dir, 'pack')], { encoding: 'utf8' }), 'pack')
      .trim()
      .split('\n');
    assert.equal(tarballs.length, 2);
    assert.match(tarballs[1], /netspectra-linux-x64-gnu-\d+\.\d+\.\d+\.tgz$/);

    // No folder that holds cargo or rustc stays on the PATH.
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((p) => p && !existsSync(join(p, 'cargo')) && !existsSync(join(p, 'rustc')))
      .join(delimiter);
    const env = { ...process.env, PATH: path, NETSPECTRA_BACKEND: '' };
    assert.equal(spawnSync('cargo', ['--version'], { env }).error?.message.includes('ENOENT'), true, 'cargo must be off the PATH');

    const app = join(dir, 'app');
    check(spawnSync('mkdir', [app], { encoding: 'utf8' }), 'mkdir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    check(spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: app, env, encoding: 'utf8' }), 'npm install');
    assert.ok(!existsSync(join(app, 'node_modules', 'netspectra', 'native')), 'the main package carries no native binary');
    const shipped = join(app, 'node_modules', 'netspectra', 'dist', 'ts');
    assert.ok(!existsSync(join(shipped, 'testing')), 'test support is not shipped');
    assert.ok(!existsSync(join(shipped, 'cli', 'cli.test.js')), 'tests are not shipped');
    const installed = join(app, 'node_modules', 'netspectra');
    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    assert.match(readFileSync(join(installed, 'proto', 'netspectra', 'v1', 'query.proto'), 'utf8'), /service QueryService/);

    const run = (json: boolean) => spawnSync('npx', ['--no-install', 'netspectra', 'analyze', ...(json ? ['--json'] : []), capture], { cwd: app, env, encoding: 'utf8' });
    const analyze = (json: boolean) => check(run(json), 'npx netspectra analyze');
    const nativeText = analyze(false);
    assert.match(nativeText, /backend: native/);
    const nativeJson = analyze(true);

    rmSync(join(app, 'node_modules', 'netspectra-linux-x64-gnu'), { recursive: true });
    const fallback = run(false);
    const wasmText = check(fallback, 'npx netspectra analyze without the platform package');
    assert.match(wasmText, /backend: wasm/);
    assert.match(fallback.stderr, /using the wasm backend; native did not load: .*netspectra-linux-x64-gnu \(not installed\)/);
    // The backend and its time, and the run id of the stored rows, differ from run to run.
    const strip = (t: string) => t.replace(/^NetSpectra analysis \(.*\)$/m, '').replace(/\(run \d+-[0-9a-f]+\)/, '(run)');
    assert.equal(strip(wasmText), strip(nativeText));
    assert.deepEqual(comparable(analyze(true)), comparable(nativeJson));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
