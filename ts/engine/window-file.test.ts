import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WindowFile } from './window-file.js';

const window = (startMs: number) => ({ startMs, endMs: startMs + 1000, json: `{"packets":${startMs}}`, snapshot: new Uint8Array() });

test('a line torn by a crash is cut off before the next window is appended', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-window-file-'));
  const path = join(dir, 'w.jsonl');
  const first = new WindowFile(path, 'e1');
  first.write(window(1000));
  first.close();
  appendFileSync(path, '{"engine":"e1","startMs":2000,"endMs":30'); // killed mid-write
  const second = new WindowFile(path, 'e2');
  second.write(window(2000));
  second.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { engine: string; endMs: number });
  assert.deepEqual(lines.map((l) => [l.engine, l.endMs]), [['e1', 2000], ['e2', 3000]]);
  rmSync(dir, { recursive: true, force: true });
});
