// Opens the store: ClickHouse in process (chdb) in a data folder, or a ClickHouse server by
// URL. Both speak through @clickhouse/client with the same schema and the same queries.
import { createRequire } from 'node:module';
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { StorageConfig } from '../config/index.js';
import type { Column } from './row-binary.js';
import { migrate } from './schema.js';

export interface Store {
  client: ClickHouseClient;
  database: string;
  /** "embedded <folder>" or the server URL: for logs and health. */
  where: string;
  /** Inserts RowBinary rows with these columns into a table of the database. */
  insert(table: string, columns: readonly Column[], data: Buffer, database?: string): Promise<void>;
  /** The same, with the rows in a file (the embedded store reads it where it is). */
  insertFile(table: string, columns: readonly Column[], file: string): Promise<void>;
  close(): Promise<void>;
}

/** Which store and database rows are meant for: a spill is replayed only there. */
export function storeIdentity(store: Pick<Store, 'where' | 'database'>): string {
  return `${store.where} ${store.database}`;
}

function insertQuery(db: string, table: string, columns: readonly Column[]): string {
  return `INSERT INTO ${db}.\`${table}\` (${columns.map(([c]) => `\`${c}\``).join(', ')})`;
}

/** The rows' structure as read from RowBinary: LowCardinality columns read as their plain type
 * (ClickHouse parses RowBinary LowCardinality several times slower; the table's column
 * converts them on insert). */
function readStructure(columns: readonly Column[]): string {
  const text = columns.map(([c, t]) => `\`${c}\` ${t.replace(/^LowCardinality\((.*)\)$/, '$1')}`).join(', ');
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

let staged = 0;

/** A file of the staging folder, named by this process (stagingFile). */
export function stagingFile(staging: string, what: string): string {
  mkdirSync(staging, { recursive: true });
  return join(staging, `${process.pid}-${staged++}-${what}.bin`);
}

/** chdb takes inserted bodies as text; RowBinary goes through a file ClickHouse reads itself. */
function embeddedInsert(client: ClickHouseClient, db: string, staging: string): Pick<Store, 'insert' | 'insertFile'> {
  const insertFile = async (table: string, columns: readonly Column[], file: string, database = db): Promise<void> => {
    // pread: the file is not mapped into this process's memory.
    await client.command({
      query: `${insertQuery(database, table, columns)} SELECT * FROM file(${quoted(file)}, RowBinary, '${readStructure(columns)}')`,
      clickhouse_settings: { storage_file_read_method: 'pread' },
    });
  };
  return {
    insertFile,
    async insert(table, columns, data, database = db) {
      const file = stagingFile(staging, table);
      writeFileSync(file, data);
      try {
        await insertFile(table, columns, file, database);
      } finally {
        rmSync(file, { force: true });
      }
    },
  };
}

function serverInsert(client: ClickHouseClient, db: string): Pick<Store, 'insert' | 'insertFile'> {
  const send = async (table: string, columns: readonly Column[], body: Readable, database: string): Promise<void> => {
    const r = await client.exec({
      query: `${insertQuery(database, table, columns)} SELECT * FROM input('${readStructure(columns)}') FORMAT RowBinary`,
      values: body,
    });
    r.stream.resume();
    await new Promise<void>((resolve, reject) => r.stream.on('end', resolve).on('error', reject));
  };
  return {
    insert: (table, columns, data, database = db) => send(table, columns, Readable.from([data], { objectMode: false }), database),
    insertFile: (table, columns, file) => send(table, columns, createReadStream(file), db),
  };
}

/** The data folder when `storage.path` is empty: $XDG_DATA_HOME/netspectra or ~/.local/share/netspectra. */
export function defaultDataPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'netspectra');
}

export function storagePath(cfg: StorageConfig): string {
  return resolve(cfg.path || defaultDataPath());
}

/** Where rows wait on disk for their insert (the data folder's `staging`). */
export function stagingDir(cfg: StorageConfig): string {
  return join(storagePath(cfg), 'staging');
}

/** The name written in every row when `storage.source` is empty. */
export function defaultSource(cfg: StorageConfig): string {
  return cfg.source || hostname();
}

type ChdbConnectionFactory = (opts: { path: string }) => unknown;

/** chdb is loaded only for the embedded store: it is a large native library. */
function chdbConnection(path: string): unknown {
  const require = createRequire(import.meta.url);
  let factory: ChdbConnectionFactory;
  try {
    factory = (require('chdb/connection') as { createChdbConnection: ChdbConnectionFactory }).createChdbConnection;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new Error(
      missing
        ? 'the embedded store needs the optional package chdb, which this installation left out (npm install chdb; ' +
            'or store in a ClickHouse server: storage.kind clickhouse; or analyze --store none)'
        : `the embedded store's package chdb does not load: ${(e as Error).message}`,
    );
  }
  try {
    return factory({ path });
  } catch (e) {
    throw new Error(`cannot open the embedded store in ${path} (one process at a time: is \`netspectra serve\` running on it? --data DIR picks another folder): ${(e as Error).message}`);
  }
}

/** The embedded store's folder is held by another process (one at a time may open it). */
export class StoreHeldError extends Error {
  constructor(readonly path: string, readonly pid: number) {
    super(`the embedded store in ${path} is held by another process (pid ${pid}); one process at a time may open it: stop that one, or pick another folder with --data DIR`);
  }
}

/** The process holding the embedded store in `path`, from the status file ClickHouse keeps
 * there while it runs (checked first: chdb would print its own error). */
function holderOf(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(path, 'status'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1]);
  return Number.isInteger(pid) && pid !== process.pid && processAlive(pid) ? pid : null;
}

/** Whether a process runs (one of another user counts: it exists). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The embedded store's name in logs (and, with the database, its identity). */
export function embeddedWhere(cfg: StorageConfig): string {
  return `embedded ${join(storagePath(cfg), 'clickhouse')}`;
}

/** Connects (without touching the schema). Throws for `file` and `none`, which are not stores;
 * StoreHeldError when another process holds the embedded store. */
export function connectStore(cfg: StorageConfig): Store {
  if (cfg.kind === 'embedded') {
    const path = join(storagePath(cfg), 'clickhouse');
    mkdirSync(path, { recursive: true });
    const holder = holderOf(path);
    if (holder !== null) throw new StoreHeldError(path, holder);
    // The client's own type for a custom connection is not exported; chdb implements it.
    const client = createClient({ connection: chdbConnection(path) } as unknown as Parameters<typeof createClient>[0]);
    const inserts = embeddedInsert(client, cfg.database, stagingDir(cfg));
    return { client, database: cfg.database, where: embeddedWhere(cfg), ...inserts, close: () => client.close() };
  }
  if (cfg.kind === 'clickhouse') {
    const client = createClient({
      url: cfg.url,
      username: cfg.user,
      password: cfg.password,
      request_timeout: 30_000,
      max_open_connections: 4,
      // The writer and the API report failures themselves, once, with what they mean.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return { client, database: cfg.database, where: cfg.url, ...serverInsert(client, cfg.database), close: () => client.close() };
  }
  throw new Error(`storage.kind "${cfg.kind}" is not a ClickHouse store`);
}

/** Connects and brings the schema up to date. */
export async function openStore(cfg: StorageConfig): Promise<Store> {
  const store = connectStore(cfg);
  try {
    await migrate(store.client, store.database, cfg.retention);
  } catch (e) {
    await store.close().catch(() => {});
    throw new Error(`storage (${store.where}): ${(e as Error).message}`);
  }
  return store;
}
