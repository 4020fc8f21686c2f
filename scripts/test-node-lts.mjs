// Runs the tests of the command line, the API, the store, analysis, packets back and the
// backends again on each supported Node LTS besides the system's: Node 22 and 24, from the npm
// packages that carry the official binaries (node-linux-<arch>), unpacked into .toolchain/ and
// reused. The whole suite runs on the system's Node (scripts/run-tests.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const VERSIONS = ['22.23.5', '24.22.3'];
const SUITES = ['cli', 'api', 'storage', 'analyze', 'extract', 'backend', 'config', 'report', 'shared', 'flows'];
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const runtime = `node-${process.platform}-${process.arch}`;

function tests(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) tests(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** The node binary of a version, installed from npm on first use. */
function nodeBinary(version) {
  const dir = join(root, '.toolchain', `node-${version}`);
  const bin = join(dir, 'node_modules', runtime, 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${runtime}@${version}`], { stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(bin)) {
      console.error(`test-node-lts: the npm package ${runtime}@${version} could not be installed`);
      process.exit(1);
    }
  }
  return bin;
}

const files = SUITES.flatMap((s) => (existsSync(join(root, 'dist', 'ts', s)) ? tests(join(root, 'dist', 'ts', s)) : [])).sort();
if (!files.length) {
  console.error('test-node-lts: no compiled tests under dist/: run `npm run build:ts` first');
  process.exit(1);
}
let failed = false;
for (const version of VERSIONS) {
  const node = nodeBinary(version);
  const v = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`== tests on Node ${v}: ${SUITES.join(', ')}`);
  const data = mkdtempSync(join(tmpdir(), 'netspectra-test-data-'));
  // The commands the tests start run on the same Node: they spawn process.execPath.
  const r = spawnSync(node, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files], {
    stdio: 'inherit', cwd: root, env: { ...process.env, XDG_DATA_HOME: data, PATH: `${join(node, '..')}:${process.env.PATH}` },
  });
  rmSync(data, { recursive: true, force: true });
  if (r.status !== 0) {
    console.error(`test-node-lts: tests failed on Node ${v}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
