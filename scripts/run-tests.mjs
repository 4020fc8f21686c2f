// Runs every compiled *.test.js under dist/ with node's test runner (Node 20 does not expand
// globs itself). Extra arguments are passed to `node --test` (e.g. --test-name-pattern).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function find(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = find('dist').sort();
if (files.length === 0) {
  console.error('no compiled tests under dist/: run `npm run build:ts` first');
  process.exit(1);
}
// Commands under test store windows in the default data folder: give them a fresh one.
const data = mkdtempSync(join(tmpdir(), 'netspectra-test-data-'));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
  env: { ...process.env, XDG_DATA_HOME: data },
});
rmSync(data, { recursive: true, force: true });
process.exit(r.status ?? 1);
