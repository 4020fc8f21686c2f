// Debian's Rust for the targets rustup cannot add here (it downloads from the internet):
// rustc-web and cargo-web (a Rust whose LLVM matches lld's), rust-web-src (std's sources with its
// vendored dependencies, for -Z build-std), lld-NN (wasm-ld), and whichever libraries they need
// that this machine lacks, unpacked into .toolchain/wasm (never installed: they conflict with
// Debian's own rustc). Only Debian's apt repository is used; the unpacked toolchain is reused
// until .toolchain/ is deleted. Used by the wasm build and by the cross builds of the addon.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolchain = join(root, '.toolchain', 'wasm');
const debs = join(toolchain, 'debs');
const sysroot = join(toolchain, 'root');
const ready = join(sysroot, '.netspectra-ready');
const started = Date.now();
/** Which build is speaking (set by the script that uses the toolchain). */
let who = 'debian-rust';
export function speaker(name) {
  who = name;
}

export function log(msg) {
  console.error(`${who}: ${msg}`);
}

/** Stops the build with what failed and how to fix it. */
export function fail(what, fix, detail = '') {
  console.error(`${who}: ${what}${detail ? `\n${detail.trim()}` : ''}\n${who}: to fix: ${fix}`);
  process.exit(1);
}

/** Runs a command; returns { ok, out } with stdout and stderr together. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) return { ok: false, out: `${cmd}: ${r.error.message}` };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const isRoot = process.getuid?.() === 0;
let updated = false;

/** apt-get update, once, when the package lists are missing or stale. */
function aptUpdate(why) {
  if (updated) return false;
  updated = true;
  if (!isRoot) {
    fail(`${why}, and the package lists cannot be refreshed without root`, 'run `sudo apt-get update`, then build again');
  }
  log(`${why}: running apt-get update`);
  const r = run('apt-get', ['update'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!r.ok) fail('apt-get update failed', 'check that Debian\'s apt repository is reachable (see /etc/apt/sources.list*)', r.out);
  return true;
}

/** `apt-cache depends` of several packages (one call: each call re-reads the package lists):
 * for each, its dependencies as groups of alternatives (a virtual package stands for its
 * providers). */
function dependencies(pkgs) {
  let r = run('apt-cache', ['depends', ...pkgs]);
  if (!r.ok && aptUpdate(`apt-cache depends ${pkgs.join(' ')} failed`)) r = run('apt-cache', ['depends', ...pkgs]);
  if (!r.ok) fail(`apt-cache depends ${pkgs.join(' ')} failed`, "check that Debian's repository (bookworm with bookworm-security) offers these packages", r.out);
  const all = new Map();
  let groups = [];
  let open = false; // the previous line started with '|': this one is another alternative
  let virtual = null; // the providers of a <virtual> dependency follow it, indented
  for (const line of r.out.split('\n')) {
    if (/^\S/.test(line)) {
      groups = [];
      all.set(line.trim(), groups);
      open = false;
      virtual = null;
      continue;
    }
    const dep = /^ (\|| )(Pre)?Depends: (<)?([^>\s]+)>?/.exec(line);
    if (dep) {
      if (!open) groups.push([]);
      virtual = dep[3] ? [] : null;
      groups[groups.length - 1].push(virtual ?? dep[4]);
      open = dep[1] === '|';
      continue;
    }
    const provider = /^ {4}(\S+)$/.exec(line);
    if (provider && virtual) virtual.push(provider[1]);
    else if (!/^ {4}/.test(line)) virtual = null;
  }
  for (const pkg of pkgs) if (!all.has(pkg)) fail(`apt-cache depends says nothing about ${pkg}`, 'run `apt-get update`, then build again');
  return new Map([...all].map(([pkg, g]) => [pkg, g.map((alts) => alts.flat())]));
}

function installed(pkg) {
  return run('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg]).out.startsWith('ii');
}

/** The packages to unpack: the toolchain, then every dependency this machine lacks, recursively
 * (level by level, one apt-cache call per level). */
function packageList() {
  const list = [];
  const seen = new Set();
  let level = ['rustc-web', 'cargo-web', 'rust-web-src', 'libstd-rust-web-dev'];
  let llvm = null;
  while (level.length > 0) {
    level.forEach((p) => seen.add(p));
    list.push(...level);
    const deps = dependencies(level);
    const next = [];
    for (const [pkg, groups] of deps) {
      for (const group of groups) {
        // std's runtime package carries the compiler's version in its name (libstd-rust-web-1.96),
        // and the LLVM it links (libllvm22) names the lld that can link its output (lld-22).
        const v = /^libllvm(\d+)$/.exec(group[0] ?? '');
        if (v && /^libstd-rust-web-\d/.test(pkg)) llvm = v[1];
        if (group.length === 0 || group.some((d) => seen.has(d) || next.includes(d) || installed(d))) continue;
        next.push(group[0]);
      }
    }
    if (llvm && !seen.has(`lld-${llvm}`) && !next.includes(`lld-${llvm}`)) next.push(`lld-${llvm}`, `libllvm${llvm}`);
    level = next.filter((p, i) => !seen.has(p) && next.indexOf(p) === i);
  }
  if (!llvm) fail('cannot tell which LLVM libstd-rust-web-X.Y links (so which lld to use)', 'check `apt-cache depends libstd-rust-web-dev` and its libstd-rust-web-X.Y');
  return { list, lld: `wasm-ld-${llvm}` };
}

/** The oldest compiler this build was tried with (Debian's bookworm-security has it). */
const TESTED_RUST = [1, 96];

/** Resolves and downloads the packages; with missing or stale package lists, refreshes them once
 * (apt-get update) and resolves again. */
function download() {
  for (;;) {
    const resolved = packageList();
    const version = /^libstd-rust-web-(\d+)\.(\d+)$/.exec(resolved.list.find((p) => p.startsWith('libstd-rust-web-1')) ?? '');
    const old = version && (Number(version[1]) < TESTED_RUST[0] || (Number(version[1]) === TESTED_RUST[0] && Number(version[2]) < TESTED_RUST[1]));
    if (old && aptUpdate(`the package lists offer rustc-web ${version[1]}.${version[2]}, older than ${TESTED_RUST.join('.')}`)) continue;
    if (old) log(`warning: rustc-web ${version[1]}.${version[2]} is older than ${TESTED_RUST.join('.')}, the version this build was tried with`);
    log(`toolchain: downloading ${resolved.list.join(' ')}`);
    rmSync(debs, { recursive: true, force: true });
    mkdirSync(debs, { recursive: true });
    // As root, apt drops to the _apt user, who may not write here.
    const args = [...(isRoot ? ['-o', 'APT::Sandbox::User=root'] : []), 'download', ...resolved.list];
    const r = run('apt-get', args, { cwd: debs });
    if (r.ok) return resolved;
    if (/Unable to locate|no installation candidate|404|Failed to fetch/.test(r.out) && aptUpdate('apt-get download failed')) continue;
    fail(`apt-get download ${resolved.list.join(' ')} failed`, "check that Debian's apt repository is reachable and offers these packages", r.out);
  }
}

function unpack() {
  const tmp = `${sysroot}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // Of the compiler's sources only std's (library/) are needed: skip the rest (365 MB) and docs.
  const skip = ['./usr/src/rustc-*/src', './usr/src/rustc-*/compiler', './usr/share/doc'].map((p) => `--exclude='${p}'`).join(' ');
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    const r = run('bash', ['-c', `set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --anchored --no-wildcards-match-slash ${skip}`, 'unpack', join(debs, deb), tmp]);
    if (!r.ok) fail(`unpacking ${deb} (dpkg-deb --fsys-tarfile | tar -x) failed`, 'delete .toolchain/ and build again (the download may be damaged)', r.out);
  }
  rmSync(sysroot, { recursive: true, force: true });
  renameSync(tmp, sysroot);
}

export function toolchainEnv(lld) {
  const libs = join(sysroot, 'usr', 'lib', 'x86_64-linux-gnu');
  const env = { ...process.env };
  // Nothing from rustup's toolchain or the caller's cargo settings may leak into this build.
  for (const k of Object.keys(env)) {
    if (/^(RUSTUP_|CARGO_|RUSTC|RUSTDOC|RUSTFLAGS)/.test(k) || k === 'RUST_SRC_PATH') delete env[k];
  }
  return {
    ...env,
    PATH: `${join(sysroot, 'usr', 'bin')}:${env.PATH}`,
    LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ? `${libs}:${env.LD_LIBRARY_PATH}` : libs,
    CARGO_HOME: join(toolchain, 'cargo-home'),
    RUSTC: join(sysroot, 'usr', 'bin', 'rustc'),
    RUSTDOC: join(sysroot, 'usr', 'bin', 'rustdoc'),
    RUSTC_BOOTSTRAP: '1',
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER: join(sysroot, 'usr', 'bin', lld),
  };
}

/** Each tool starts, or the build stops with what is missing. */
function checkTools(env, lld) {
  for (const [tool, args] of [['rustc', ['-vV']], ['cargo', ['-V']], [lld, ['--version']]]) {
    const path = join(sysroot, 'usr', 'bin', tool);
    const r = run(path, args, { env });
    if (r.ok) continue;
    const missing = run('ldd', [path], { env }).out.split('\n').filter((l) => l.includes('not found')).join('\n');
    fail(
      `${tool} from the unpacked toolchain does not start`,
      missing
        ? 'a shared library is missing that apt-cache did not list as a dependency: install the package that has it (`apt-cache search <library>`, then `apt-get install <package>`), delete .toolchain/ and build again'
        : 'delete .toolchain/ and build again',
      `${r.out}${missing ? `\nmissing libraries:\n${missing}` : ''}`,
    );
  }
}

export function setup() {
  const marker = existsSync(ready) ? JSON.parse(readFileSync(ready, 'utf8')) : null;
  if (marker) {
    log(`toolchain: .toolchain/wasm (cached: ${marker.packages.join(' ')})`);
    return marker;
  }
  const { list, lld } = download();
  log('toolchain: unpacking into .toolchain/wasm/root');
  unpack();
  const marker2 = { packages: list, lld };
  checkTools(toolchainEnv(lld), lld);
  writeFileSync(ready, `${JSON.stringify(marker2)}\n`);
  rmSync(debs, { recursive: true, force: true });
  log(`toolchain: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return marker2;
}


export { ready, root, started, sysroot, toolchain };
