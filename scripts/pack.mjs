// Packs what `npm install` needs on a machine without a Rust toolchain, in the napi-rs layout:
//   netspectra-<version>.tgz                          compiled TypeScript with its type
//                                                     definitions, the generated addon loader, the
//                                                     wasm engine, configs, protos; the platform
//                                                     packages as optional dependencies
//   netspectra-netspectra-<triple>-<version>.tgz      @netspectra/netspectra-<triple>: the prebuilt
//                                                     addon of one platform (os, cpu, libc set)
// Platform addons come from artifacts/<triple>/ (`npm run build:platforms`: glibc 2.17 and musl
// builds); without any, the addon of this checkout (native/, `npm run build:native`) is packed
// for this platform alone. Run after the builds. Writes the tarballs to the folder given
// (default: pack/) and prints their paths, main package first, one per line, on stdout.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tripleOf } from './platforms.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'pack'));
const stage = join(out, 'stage');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { binaryName, packageName } = pkg.napi;

const triples = pkg.napi.targets.map(tripleOf);

function fail(what) {
  console.error(`pack: ${what}`);
  process.exit(1);
}
for (const [file, how] of [
  [join(root, 'native', 'binding.cjs'), 'npm run build:native'],
  [join(root, 'wasm', 'netspectra.wasm'), 'npm run build:wasm'],
  [join(root, 'dist', 'ts', 'cli', 'main.js'), 'npm run build:ts'],
]) {
  if (!existsSync(file)) fail(`${file} is missing; build it first with \`${how}\` (or \`npm run build\`)`);
}

/** The addons to pack: artifacts/ when it has any, else this checkout's own build. */
function addons() {
  const built = triples
    .map((t) => ({ triple: t, file: join(root, 'artifacts', t, `${binaryName}.${t}.node`) }))
    .filter((a) => existsSync(a.file));
  if (built.length) return built;
  const own = readdirSync(join(root, 'native'))
    .map((f) => new RegExp(`^${binaryName}\\.(.+)\\.node$`).exec(f)?.[1])
    .filter((t) => t && triples.includes(t));
  if (!own.length) fail('no addon to pack: run `npm run build:platforms` (or `npm run build:native` for this platform)');
  return own.map((t) => ({ triple: t, file: join(root, 'native', `${binaryName}.${t}.node`) }));
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

function npmPack(dir) {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
  return join(out, name);
}

/** A platform package: only the addon, installable only where it can load (os, cpu, libc). */
function platformPackage({ triple, file }) {
  const [os, cpu, abi] = triple.split('-');
  const dir = join(stage, triple);
  const node = `${binaryName}.${triple}.node`;
  mkdirSync(dir);
  cpSync(file, join(dir, node));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: `${packageName}-${triple}`,
        version: pkg.version,
        description: `NetSpectra native engine for ${triple}${abi === 'gnu' ? ' (glibc >= 2.17)' : ''}`,
        license: pkg.license,
        os: [os],
        cpu: [cpu],
        libc: [abi === 'gnu' ? 'glibc' : 'musl'],
        main: node,
        files: [node],
      },
      null,
      2,
    ),
  );
  return npmPack(dir);
}

// The main package: the generated loader and types but no addon; the wasm engine is the
// fallback everywhere.
const mainDir = join(stage, 'main');
mkdirSync(mainDir);
// Tests and their support (dist/ts/testing), source maps and built addons stay out.
const shipped = (src) => {
  const p = src.split(sep).join('/');
  return !p.endsWith('.test.js') && !p.endsWith('.test.d.ts') && !p.endsWith('.map') && !p.includes('dist/ts/testing') && !p.endsWith('.node');
};
const files = ['dist/ts', 'native', 'wasm', 'configs', 'proto'];
for (const part of [...files, 'README.md', 'LICENSE']) {
  if (existsSync(join(root, part))) cpSync(join(root, part), join(mainDir, part), { recursive: true, filter: shipped });
}
const { devDependencies: _dev, scripts: _scripts, allowScripts: _allow, napi: _napi, ...published } = pkg;
writeFileSync(
  join(mainDir, 'package.json'),
  JSON.stringify(
    {
      ...published,
      files,
      // chdb (the embedded store, about 550 MB) is optional too: `--omit=optional` leaves it and
      // the platform packages out (the engine and probe images; see deployments/Dockerfile).
      optionalDependencies: { ...pkg.optionalDependencies, ...Object.fromEntries(triples.map((t) => [`${packageName}-${t}`, pkg.version])) },
    },
    null,
    2,
  ),
);

const tarballs = [npmPack(mainDir), ...addons().map(platformPackage)];
rmSync(stage, { recursive: true, force: true });
console.log(tarballs.join('\n'));
