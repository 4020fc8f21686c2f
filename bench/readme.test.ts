// README's performance tables are the ones bench/results/analyze.json gives: they cannot drift
// from the figures the benchmark wrote.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readmeWithResults, type AnalyzeBench } from './results.js';

test('README shows the tables of bench/results/analyze.json', () => {
  const root = process.cwd();
  const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'analyze.json'), 'utf8')) as AnalyzeBench;
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.equal(readme, readmeWithResults(readme, results), 'run `node dist/bench/readme.js` after the benchmark');
});
