// The console page and its assets, served without a token: they hold no data (every request
// the page makes for data carries the token). The files are read once, at mount.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiApp } from '../api/http.js';

/** The page's folder: ts/console/public of a checkout (tsc does not copy it, and it is never
 * stale there), else the copy `npm run build:ts` puts beside this module (packages, images). */
export const PUBLIC_DIR = [new URL('../../../ts/console/public/', import.meta.url), new URL('./public/', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(join(dir, 'index.html'))) ?? fileURLToPath(new URL('./public/', import.meta.url));

export const PAGE_PATH = '/console/';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function chartJsPath(): string {
  // chart.js exports no subpath for its UMD build: find it beside the package's main file.
  const main = createRequire(import.meta.url).resolve('chart.js');
  return join(dirname(main), 'chart.umd.min.js');
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`console: the page's file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); is the package complete?`);
  }
}

export function mountPage(api: ApiApp): void {
  const files: Record<string, { body: Buffer; type: string }> = {
    'index.html': { body: read(join(PUBLIC_DIR, 'index.html')), type: 'text/html; charset=utf-8' },
    'app.js': { body: read(join(PUBLIC_DIR, 'app.js')), type: 'text/javascript; charset=utf-8' },
    'style.css': { body: read(join(PUBLIC_DIR, 'style.css')), type: 'text/css; charset=utf-8' },
    'chart.umd.min.js': { body: read(chartJsPath()), type: 'text/javascript; charset=utf-8' },
    // The names reports use (ports, ICMP types), the same module in the page.
    'names.js': { body: read(fileURLToPath(new URL('../shared/names.js', import.meta.url))), type: 'text/javascript; charset=utf-8' },
  };
  const headers = (type: string) => ({
    'Content-Type': type,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': CSP,
  });
  const serve = (name: string) => () => new Response(new Uint8Array(files[name].body), { headers: headers(files[name].type) });
  const redirect = () => new Response(null, { status: 302, headers: { Location: PAGE_PATH } });
  api.app.get('/', redirect);
  api.app.get('/console', redirect);
  api.app.get(PAGE_PATH, serve('index.html'));
  api.publicPaths.add('/').add('/console').add(PAGE_PATH);
  for (const name of Object.keys(files)) {
    api.app.get(`${PAGE_PATH}${name}`, serve(name));
    api.publicPaths.add(`${PAGE_PATH}${name}`);
  }
}
