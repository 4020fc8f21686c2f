// Country and AS of flow endpoints, from MMDB files (flows.asnDatabase, flows.countryDatabase):
// the files are read here and handed to the core, which looks each flow up once, when its record
// is written. A file that changes is loaded again without a restart.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { GeoDatabases } from '../backend/index.js';
import { taskFields, type FlowsConfig, type KeyField, type TaskConfig } from '../config/index.js';

type Log = (line: string) => void;

/** What takes the databases: an analyzer or an engine of a compiled backend. */
export interface GeoTarget {
  setGeo?(databases: GeoDatabases): void;
}

/** Whether a task keys on an endpoint's AS or country: the databases are loaded for it also
 * when flow records are off. */
export function tasksNeedGeo(tasks: TaskConfig[]): boolean {
  const geo: KeyField[] = ['SrcAS', 'DstAS', 'SrcCountry', 'DstCountry'];
  return tasks.some((t) => taskFields(t).some((f) => geo.includes(f)));
}

/** Reads the configured files; throws naming the setting and the file. */
function read(cfg: FlowsConfig): GeoDatabases {
  const out: GeoDatabases = {};
  for (const [key, file] of [['asnDatabase', cfg.asnDatabase], ['countryDatabase', cfg.countryDatabase]] as const) {
    if (!file) continue;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new Error(`flows.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (key === 'asnDatabase') Object.assign(out, { asn: bytes, asnFile: file });
    else Object.assign(out, { country: bytes, countryFile: file });
  }
  return out;
}

/** Loads the databases into `target`. An unreadable or broken file is an error, or with
 * flows.geoOptional a warning and no enrichment. Returns whether enrichment is on. */
export function applyGeo(target: GeoTarget, cfg: FlowsConfig, log: Log): boolean {
  if (!cfg.asnDatabase && !cfg.countryDatabase) return false;
  try {
    if (!target.setGeo) throw new Error('flows.asnDatabase/countryDatabase: country and AS enrichment needs the native backend');
    target.setGeo(read(cfg));
    return true;
  } catch (e) {
    if (!cfg.geoOptional) throw e;
    log(`geo: ${(e as Error).message}; records are written without country and AS (flows.geoOptional)`);
    return false;
  }
}

/** Loads the databases again whenever one of the files changes (checked every `intervalMs`);
 * a file that is broken after a change leaves the previous databases in use, and says so.
 * Returns the function that stops watching. */
export function watchGeo(target: GeoTarget, cfg: FlowsConfig, log: Log, intervalMs = 2000): () => void {
  const files = [cfg.asnDatabase, cfg.countryDatabase].filter(Boolean);
  const reload = () => {
    try {
      target.setGeo?.(read(cfg));
      log(`geo: reloaded ${files.join(', ')}`);
    } catch (e) {
      log(`geo: ${(e as Error).message}; the previous databases stay in use`);
    }
  };
  for (const f of files) watchFile(f, { interval: intervalMs }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) reload();
  });
  return () => {
    for (const f of files) unwatchFile(f);
  };
}
