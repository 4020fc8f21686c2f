// Builds the napi addon in release mode and places it where the backend loader looks:
// native/netspectra.<platform>-<arch>[-<libc>].node
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformTriple } from './platform.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'netspectra-napi'], { cwd: root, stdio: 'inherit' });
const libName = { linux: 'libnetspectra_napi.so', darwin: 'libnetspectra_napi.dylib', win32: 'netspectra_napi.dll' }[process.platform];
if (!libName) throw new Error(`no native build for platform ${process.platform}`);
mkdirSync(join(root, 'native'), { recursive: true });
const target = join(root, 'native', `netspectra.${platformTriple()}.node`);
copyFileSync(join(root, 'target', 'release', libName), target);
console.error(`native addon: ${target}`);
