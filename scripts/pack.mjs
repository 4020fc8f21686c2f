// Packs what `npm install` needs on a machine without a Rust toolchain, in the napi-rs layout:
//   netspectra-<version>.tgz                      compiled TypeScript, the wasm engine, configs;
//                                                 the platform packages as optional dependencies
//   netspectra-<triple>-<version>.tgz             the prebuilt native addon for one platform
// Run after `npm run build`. Writes the tarballs to the folder given (default: pack/) and prints
// their paths, one per line, on stdout.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformTriple } from './platform.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'pack'));
const stage = join(out, 'stage');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const triple = platformTriple();
const [os, cpu, libc] = triple.split('-');
const addon = join(root, 'native', `netspectra.${triple}.node`);
const wasm = join(root, 'wasm', 'netspectra.wasm');
for (const [file, how] of [[addon, 'npm run build:native'], [wasm, 'npm run build:wasm'], [join(root, 'dist', 'ts', 'cli', 'main.js'), 'npm run build:ts']]) {
  if (!existsSync(file)) {
    console.error(`pack: ${file} is missing; build it first with \`${how}\` (or \`npm run build\`)`);
    process.exit(1);
  }
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

function npmPack(dir) {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
  return join(out, name);
}

// The platform package: only the addon, installable only where it can load.
const platformName = `${pkg.name}-${triple}`;
const platformDir = join(stage, triple);
mkdirSync(platformDir);
cpSync(addon, join(platformDir, `netspectra.${triple}.node`));
writeFileSync(
  join(platformDir, 'package.json'),
  JSON.stringify(
    {
      name: platformName,
      version: pkg.version,
      description: `NetSpectra native engine for ${triple}`,
      license: pkg.license,
      os: [os],
      cpu: [cpu],
      ...(libc ? { libc: [libc === 'gnu' ? 'glibc' : 'musl'] } : {}),
      main: `netspectra.${triple}.node`,
      files: [`netspectra.${triple}.node`],
    },
    null,
    2,
  ),
);

// The main package: no native binary of its own; the wasm engine is the fallback everywhere.
const mainDir = join(stage, 'main');
mkdirSync(mainDir);
// The .proto files: clients (grpcurl, generated stubs) need the API's schema.
for (const part of ['dist/ts', 'wasm', 'configs', 'proto', 'README.md', 'LICENSE']) {
  // Tests and their support (dist/ts/testing) stay out of the package.
  const shipped = (src) => !src.endsWith('.test.js') && !src.endsWith('.map') && !src.split(sep).join('/').includes('dist/ts/testing');
  if (existsSync(join(root, part))) cpSync(join(root, part), join(mainDir, part), { recursive: true, filter: shipped });
}
const { devDependencies: _dev, scripts: _scripts, allowScripts: _allow, ...published } = pkg;
writeFileSync(
  join(mainDir, 'package.json'),
  JSON.stringify({ ...published, files: ['dist/ts', 'wasm', 'configs', 'proto'], optionalDependencies: { [platformName]: pkg.version } }, null, 2),
);

const tarballs = [npmPack(mainDir), npmPack(platformDir)];
rmSync(stage, { recursive: true, force: true });
console.log(tarballs.join('\n'));
