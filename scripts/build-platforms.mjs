// Builds the addon for every Linux platform package with `napi build` (@napi-rs/cli) and zig as
// the linker: artifacts/<triple>/netspectra.<triple>.node for the targets in package.json's
// `napi.targets`, or those given as arguments (napi-rs triples: linux-x64-gnu, linux-arm64-musl).
//
// - glibc targets link against glibc 2.17 (zig's `-target <arch>-linux-gnu.2.17`), so the addon
//   loads on every distribution since RHEL 7 / Debian 8, not only on the build machine's glibc;
// - musl targets link musl dynamically (a Node addon is a shared library: `-crt-static` off);
// - x86-64 glibc uses rustup's std; every other target compiles std from source (-Z build-std)
//   with Debian's Rust (scripts/debian-rust.mjs), as rustup cannot add targets here.
// zig comes from PyPI (`ziglang`, the official builds), unpacked into .toolchain/zig.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, log, root, setup, speaker, toolchainEnv } from './debian-rust.mjs';
import { PLATFORMS, tripleOf } from './platforms.mjs';

speaker('build-platforms');
const ZIG_VERSION = '0.17.0';
const zigDir = join(root, '.toolchain', 'zig');
const zig = join(zigDir, 'py', 'ziglang', 'zig');

function ensureZig() {
  const have = existsSync(zig) ? spawnSync(zig, ['version'], { encoding: 'utf8' }).stdout?.trim() : '';
  if (have === ZIG_VERSION) return;
  log(`zig ${ZIG_VERSION}: pip install ziglang into .toolchain/zig`);
  rmSync(zigDir, { recursive: true, force: true });
  const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', join(zigDir, 'py'), `ziglang==${ZIG_VERSION}`], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(zig)) {
    fail(`installing ziglang ${ZIG_VERSION} from PyPI failed`, 'check that PyPI is reachable and python3 has pip (apt-get install python3-pip)', `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`);
  }
}

/** A linker for rustc: zig cc for one target (rustc calls the linker with cc's arguments). */
function linker(zigTarget) {
  const file = join(zigDir, `cc-${zigTarget}`);
  const text = `#!/bin/sh\n# rustc's linker for ${zigTarget} (written by scripts/build-platforms.mjs)\nexec "${zig}" cc -target ${zigTarget} "$@"\n`;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    writeFileSync(file, text);
    chmodSync(file, 0o755);
  }
  return file;
}

function build(triple) {
  const t = PLATFORMS[triple];
  if (!t) fail(`no cross build for ${triple}`, `choose from ${Object.keys(PLATFORMS).join(', ')}`);
  const started = Date.now();
  const envName = t.rust.toUpperCase().replaceAll('-', '_');
  const hostStd = t.rust === 'x86_64-unknown-linux-gnu' && process.arch === 'x64';
  const cache = join(zigDir, 'cache');
  const env = {
    ...(hostStd ? process.env : toolchainEnv(setup().lld)),
    [`CARGO_TARGET_${envName}_LINKER`]: linker(t.zig),
    ZIG_GLOBAL_CACHE_DIR: cache,
    ZIG_LOCAL_CACHE_DIR: cache,
  };
  const cargoArgs = hostStd ? ['--locked'] : ['--locked', '-Z', 'build-std=std,panic_abort'];
  if (t.rust.endsWith('-musl')) env[`CARGO_TARGET_${envName}_RUSTFLAGS`] = '-C target-feature=-crt-static';
  const out = join(root, 'artifacts', triple);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const args = [
    join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'build',
    '--platform', '--release', '--strip', '--no-js',
    '--manifest-path', join(root, 'crates', 'napi', 'Cargo.toml'),
    '--package-json-path', join(root, 'package.json'),
    '--target', t.rust,
    '--target-dir', join(root, 'target', 'cross'),
    '--output-dir', out,
    '--', ...cargoArgs,
  ];
  log(`${triple}: napi build --target ${t.rust} (linker: zig cc -target ${t.zig}${hostStd ? '' : ', std from source'})`);
  const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) fail(`napi build for ${triple} failed (its output is above)`, 'fix the error; if the toolchain is broken, delete .toolchain/ and build again');
  const addon = join(out, `netspectra.${triple}.node`);
  if (!existsSync(addon)) fail(`napi build left no ${addon}`, 'check the `napi` section of package.json (binaryName)');
  // Only the addon is an artifact; type definitions come from the host build (native/).
  for (const f of readdirSync(out)) if (f !== `netspectra.${triple}.node`) rmSync(join(out, f), { recursive: true, force: true });
  log(`${triple}: ${addon} (${statSync(addon).size} bytes, ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(`cross builds run on Linux x86-64 (this is ${process.platform}-${process.arch})`, 'build the platform packages on a Linux x86-64 machine');
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : (pkg.napi?.targets ?? []).map(tripleOf);
ensureZig();
for (const triple of wanted) build(triple);
