// Opens the store: ClickHouse in process (chdb) in a data folder, or a ClickHouse server by
// URL. Both speak through @clickhouse/client with the same schema and the same queries.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { StorageConfig } from '../config/index.js';
import { migrate } from './schema.js';

export interface Store {
  client: ClickHouseClient;
  database: string;
  /** "embedded <folder>" or the server URL: for logs and health. */
  where: string;
  close(): Promise<void>;
}

/** The data folder when `storage.path` is empty: $XDG_DATA_HOME/netspectra or ~/.local/share/netspectra. */
export function defaultDataPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'netspectra');
}

export function storagePath(cfg: StorageConfig): string {
  return resolve(cfg.path || defaultDataPath());
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
    throw new Error(`the embedded store needs the chdb package (npm install chdb): ${(e as Error).message}`);
  }
  try {
    return factory({ path });
  } catch (e) {
    throw new Error(`cannot open the embedded store in ${path} (one process at a time: is \`netspectra serve\` running on it? --data DIR picks another folder): ${(e as Error).message}`);
  }
}

/** Connects (without touching the schema). Throws for `file` and `none`, which are not stores. */
export function connectStore(cfg: StorageConfig): Store {
  if (cfg.kind === 'embedded') {
    const path = join(storagePath(cfg), 'clickhouse');
    mkdirSync(path, { recursive: true });
    // The client's own type for a custom connection is not exported; chdb implements it.
    const client = createClient({ connection: chdbConnection(path) } as unknown as Parameters<typeof createClient>[0]);
    return { client, database: cfg.database, where: `embedded ${path}`, close: () => client.close() };
  }
  if (cfg.kind === 'clickhouse') {
    const client = createClient({
      url: cfg.url,
      username: cfg.user,
      password: cfg.password,
      request_timeout: 30_000,
      max_open_connections: 4,
    });
    return { client, database: cfg.database, where: cfg.url, close: () => client.close() };
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
