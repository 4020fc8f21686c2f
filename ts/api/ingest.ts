// POST /api/v1/ingest: rows for the store this server holds, from a process that cannot open it
// itself (`analyze` while `serve` holds the embedded store). The body is one block as a spill
// file holds it (ts/storage/handoff.ts): a line of JSON naming the table, its columns and rows,
// then the RowBinary rows. The rows go through this server's writer (bad rows quarantined, an
// outage spilled); the answer says what became of them.
import type { ApiApp } from './http.js';
import { HANDOFF_LIMIT, readBlock, type HandoffResult } from '../storage/handoff.js';
import type { RowSink, WriterStats } from '../storage/index.js';

function delta(after: WriterStats, before: WriterStats): HandoffResult {
  const reasons: Record<string, number> = {};
  for (const [r, n] of Object.entries(after.quarantineReasons)) {
    const d = n - (before.quarantineReasons[r] ?? 0);
    if (d > 0) reasons[r] = d;
  }
  return {
    written: after.rowsWritten - before.rowsWritten,
    quarantined: after.rowsQuarantined - before.rowsQuarantined,
    quarantineReasons: reasons,
    spilled: after.rowsSpilled - before.rowsSpilled,
    lost: after.rowsLost - before.rowsLost,
  };
}

const INGEST_PATH = '/api/v1/ingest';

/** Mounts the route; its body limit is a block's, not the app's. */
export function mountIngest(api: ApiApp, sink: RowSink): void {
  const { app } = api;
  api.bodyLimits[INGEST_PATH] = HANDOFF_LIMIT;
  // One block at a time: each answer counts only its own rows.
  let queue: Promise<unknown> = Promise.resolve();
  app.post(INGEST_PATH, async (c) => {
    const length = Number(c.req.header('content-length') ?? NaN);
    if (!(length <= HANDOFF_LIMIT)) return c.json({ error: `a block needs a Content-Length of at most ${HANDOFF_LIMIT} bytes` }, length > HANDOFF_LIMIT ? 413 : 411);
    let block;
    try {
      block = readBlock(Buffer.from(await c.req.arrayBuffer()));
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    const run = queue.then(async () => {
      const before = sink.stats();
      sink.addBlock(block);
      await sink.flush();
      return delta(sink.stats(), before);
    });
    queue = run.catch(() => {});
    return c.json(await run);
  });
}
