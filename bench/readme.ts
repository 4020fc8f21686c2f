// Puts the tables of bench/results/analyze.json in README.md (between the bench markers).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readmeWithResults, type AnalyzeBench } from './results.js';

const root = process.cwd();
const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'analyze.json'), 'utf8')) as AnalyzeBench;
const readme = join(root, 'README.md');
writeFileSync(readme, readmeWithResults(readFileSync(readme, 'utf8'), results));
console.log('README.md: bench tables written from bench/results/analyze.json');
