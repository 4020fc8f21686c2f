// ClickHouse's HTTP interface over the embedded ClickHouse, for tests of the server path: no
// ClickHouse server recent enough for the schema can be installed here, so the store's server
// client (`storage.kind: clickhouse`) talks to this, and the SQL runs in chdb's ClickHouse.
// It answers as the server does: results in the query's FORMAT, errors as "Code: N. DB::Exception:
// ..." with X-ClickHouse-Exception-Code, query parameters from param_* (bound by chdb), settings
// from the other URL parameters, and an INSERT's rows from the request body (RowBinary through a
// file, as the embedded store inserts them). `down()` makes it answer 503 like an unavailable
// server; `up()` brings it back.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface ChdbSession {
  queryAsync(sql: string, opts?: { format?: string }): Promise<{ bytes(): Uint8Array }>;
  queryBindAsync(sql: string, params: Record<string, unknown>, opts?: { format?: string }): Promise<{ bytes(): Uint8Array }>;
  close(): void;
}

export interface ClickHouseHttp {
  url: string;
  /** Requests answered so far, and inserts among them. */
  requests: number;
  inserts: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

/** Parameters the client sends that are not settings. */
const NOT_SETTINGS = new Set(['query', 'database', 'query_id', 'session_id', 'session_timeout', 'session_check', 'default_format', 'role']);

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
}

export async function startClickHouseHttp(dir: string): Promise<ClickHouseHttp> {
  const require = createRequire(import.meta.url);
  const { Session } = require('chdb') as { Session: new (path: string) => ChdbSession };
  mkdirSync(dir, { recursive: true });
  const session = new Session(join(dir, 'data'));
  const staging = join(dir, 'staging');
  mkdirSync(staging, { recursive: true });
  let available = true;
  let seq = 0;
  const state = { requests: 0, inserts: 0 };
  const server: Server = createServer((req, res) => {
    void (async () => {
      state.requests++;
      const url = new URL(req.url ?? '/', 'http://x');
      const data = await body(req);
      if (!available) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable: the test server is down');
        return;
      }
      if (url.pathname === '/ping') return void res.end('Ok.\n');
      const params: Record<string, string> = {};
      const settings: string[] = [];
      for (const [k, v] of url.searchParams) {
        if (k.startsWith('param_')) params[k.slice(6)] = v;
        else if (!NOT_SETTINGS.has(k)) settings.push(`SET ${k} = '${v.replace(/'/g, "''")}'`);
      }
      let sql = url.searchParams.get('query') ?? data.toString('utf8');
      const insert = url.searchParams.has('query') ? /^\s*(INSERT INTO[\s\S]*?)\s+FORMAT\s+(\w+)\s*$/i.exec(sql) : null;
      let file: string | null = null;
      if (insert) {
        state.inserts++;
        file = join(staging, `${seq++}.bin`);
        writeFileSync(file, data);
        // The body as the file it would be read from: `input('structure')` reads it as `file()`.
        const viaInput = /^([\s\S]*?)SELECT \* FROM input\('((?:[^'\\]|\\.)*)'\)$/i.exec(insert[1]);
        sql = viaInput ? `${viaInput[1]}SELECT * FROM file('${file}', ${insert[2]}, '${viaInput[2]}')` : `${insert[1]} FROM INFILE '${file}' FORMAT ${insert[2]}`;
      }
      const format = /\bFORMAT\s+(\w+)\s*;?\s*$/i.exec(sql)?.[1];
      const full = settings.length ? `${settings.join('; ')}; ${sql}` : sql;
      try {
        const r = Object.keys(params).length ? await session.queryBindAsync(full, params, { format }) : await session.queryAsync(full, { format });
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-clickhouse-summary': '{}' }).end(Buffer.from(r.bytes()));
      } catch (e) {
        const text = (e as Error).message;
        const code = /Code: (\d+)/.exec(text)?.[1] ?? '1000';
        res.writeHead(500, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': code }).end(text.includes('Code:') ? text : `Code: ${code}. DB::Exception: ${text}`);
      } finally {
        if (file) rmSync(file, { force: true });
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get inserts() {
      return state.inserts;
    },
    down: () => (available = false),
    up: () => (available = true),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      session.close();
    },
  };
}
