// Test support: runs the same input through two backends and says where their outputs differ
// (first differing character of the report, first differing byte of a buffer), so a mismatch
// points at the field that the port gets wrong.
import assert from 'node:assert/strict';
import type { Analyzer, AnalyzerOptions, Backend } from '../backend/types.js';

export interface Input {
  name: string;
  data: Uint8Array;
}

export interface Outcome {
  /** Per file: the first error feed returned (feeding stops there), and endFile's. */
  errors: [string | null, string | null][];
  packets: number;
  report: string;
  /** A short list too, so the top-N cut is compared where ties decide it. */
  reportTop3: string;
  conversations: Buffer;
  ipPairs: Buffer;
  snapshots: Buffer[];
}

/** Feeds every input in chunks of `chunk` bytes, closes the window and collects every output. */
export function analyze(analyzer: Analyzer, inputs: Input[], chunk: number): Outcome {
  const errors: [string | null, string | null][] = [];
  for (const { name, data } of inputs) {
    analyzer.beginFile(name);
    let feedError: string | null = null;
    for (let at = 0; at < data.length && !feedError; at += chunk) feedError = analyzer.feed(data.subarray(at, at + chunk));
    errors.push([feedError, analyzer.endFile()]);
  }
  analyzer.closeWindow();
  return {
    errors,
    packets: analyzer.packets(),
    report: analyzer.reportJson(10),
    reportTop3: analyzer.reportJson(3),
    conversations: Buffer.from(analyzer.exportConversations(false)),
    ipPairs: Buffer.from(analyzer.exportConversations(true)),
    snapshots: analyzer.takeWindows().map((s) => Buffer.from(s)),
  };
}

function around(text: string, at: number): string {
  return text.slice(Math.max(0, at - 160), at + 160);
}

function firstDifference(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Asserts that two outcomes are identical, naming the first difference. */
export function assertSameOutcome(expected: Outcome, actual: Outcome, what: string): void {
  assert.deepEqual(actual.errors, expected.errors, `${what}: capture errors`);
  assert.equal(actual.packets, expected.packets, `${what}: packets`);
  for (const key of ['report', 'reportTop3'] as const) {
    if (actual[key] !== expected[key]) {
      const at = firstDifference(expected[key], actual[key]);
      assert.fail(`${what}: ${key} differs at character ${at}\n  native: ${around(expected[key], at)}\n  js:     ${around(actual[key], at)}`);
    }
  }
  for (const key of ['conversations', 'ipPairs'] as const) {
    if (!actual[key].equals(expected[key])) {
      const at = firstDifference(expected[key], actual[key]);
      assert.fail(`${what}: ${key} export differs (${expected[key].length} vs ${actual[key].length} bytes) at byte ${at} (row ${Math.floor(at / 96)}, offset ${at % 96})`);
    }
  }
  assert.equal(actual.snapshots.length, expected.snapshots.length, `${what}: number of snapshots`);
  actual.snapshots.forEach((s, i) => {
    if (!s.equals(expected.snapshots[i])) {
      const at = firstDifference(expected.snapshots[i], s);
      assert.fail(`${what}: snapshot ${i} differs (${expected.snapshots[i].length} vs ${s.length} bytes) at byte ${at}`);
    }
  });
}

/** Runs both backends on the inputs (the reference in one chunk) and compares. */
export function compareBackends(reference: Backend, port: Backend, options: AnalyzerOptions, inputs: Input[], chunk: number, what: string): Outcome {
  const whole = Math.max(1, ...inputs.map((i) => i.data.length));
  const expected = analyze(reference.createAnalyzer(options), inputs, whole);
  const actual = analyze(port.createAnalyzer(options), inputs, chunk);
  assertSameOutcome(expected, actual, what);
  return expected;
}

/** The error a call throws, as { message, code }, or null when it does not throw. */
export function thrown(f: () => unknown): { message: string; code: unknown } | null {
  try {
    f();
    return null;
  } catch (e) {
    return { message: (e as Error).message, code: (e as { code?: unknown }).code };
  }
}
