// The API's routes in one hono app: the Connect service (Connect, gRPC, gRPC-web), HTTP/JSON
// routes mirroring it for curl, and the routes of Grafana's JSON datasource.
import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { HttpBindings, Http2Bindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { mountPcap } from './pcap.js';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  AggregateFlowsRequestSchema, AggregateFlowsResponseSchema, HealthResponseSchema, ListTasksResponseSchema, QueryService,
  TopHeavyHittersRequestSchema, TopHeavyHittersResponseSchema, TopSpreadersRequestSchema, TopSpreadersResponseSchema, ListAlertsRequestSchema, ListAlertsResponseSchema,
  ListFlowRecordsRequestSchema, ListFlowRecordsResponseSchema, TraceFlowRequestSchema, TraceFlowResponseSchema,
} from '../gen/netspectra/v1/query_pb.js';
import { findTask, listTasks, QueryError, windowSeries } from '../storage/queries.js';
import { createQueryService, packetsSettings, type QueryContext } from './service.js';
import { limitedStore, limitError, type QueryLimits } from './query-pool.js';
import { Health, healthService } from './grpc-health.js';
import { reflectionServices, ServerReflection, ServerReflectionV1alpha } from './grpc-reflection.js';
import { tokenCheck } from './guard.js';
import { epochMs, wholeNumber } from './params.js';

/** The largest request body when none is configured (api.maxBodyBytes). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const SERVICE_PATH = `/${QueryService.typeName}/`;
const HEALTH_PATH = `/${Health.typeName}/`;
const REFLECTION_PATHS = [`/${ServerReflection.typeName}/`, `/${ServerReflectionV1alpha.typeName}/`];

/** Query-string names of the HTTP routes, as the request's JSON fields. */
const FILTER_PARAMS: Record<string, string> = { ip: 'ip', src_ip: 'srcIp', dst_ip: 'dstIp', port: 'port', src_port: 'srcPort', dst_port: 'dstPort', protocol: 'protocol', source: 'source' };
const FLOW_PARAMS: Record<string, string> = { src_ip: 'srcIp', dst_ip: 'dstIp', src_port: 'srcPort', dst_port: 'dstPort', protocol: 'protocolName' };

/** A time as RFC 3339 text or epoch milliseconds, as the JSON form of a Timestamp. */
function timeParam(v: string, name: string): string {
  return /^\d+$/.test(v) ? new Date(epochMs(v, name)).toISOString() : (epochMs(v, name), v);
}

/** The request JSON of a GET route's query string. */
function queryToJson(q: Record<string, string>, kind: 'aggregate' | 'trace' | 'top' | 'spreaders' | 'alerts' | 'records'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const filter: Record<string, unknown> = {};
  const flow: Record<string, unknown> = {};
  const range: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) {
    // Flow records take the CLI's names too: order_by and asc for their sort and dir.
    if (kind === 'records' && k === 'order_by') out.sort = v;
    else if (kind === 'records' && k === 'asc') out.dir = v === '' || v === 'true' || v === '1' ? 'asc' : 'desc';
    else if (k === 'task' || k === 'by' || k === 'order_by' || k === 'page_token') out[k.replace(/_(.)/g, (_, c: string) => c.toUpperCase())] = v;
    else if (k === 'start' || k === 'end') range[k] = timeParam(v, k);
    else if (k === 'limit') out.limit = wholeNumber(v, k);
    else if (k === 'group_by') out.groupBy = v.split(',').filter(Boolean);
    else if (k === 'asc' || k === 'live' || k === 'both') out[k === 'asc' ? 'ascending' : k === 'both' ? 'bothDirections' : 'live'] = v === '' || v === 'true' || v === '1';
    else if (kind === 'alerts' && (k === 'rule' || k === 'state' || k === 'min_severity' || k === 'source')) out[k === 'min_severity' ? 'minSeverity' : k] = v;
    else if (kind === 'records' && (k === 'community_id' || k === 'server_name' || k === 'direction' || k === 'sort' || k === 'dir')) out[k.replace(/_(.)/g, (_, c: string) => c.toUpperCase())] = v;
    else if (kind === 'trace' && k in FLOW_PARAMS) flow[FLOW_PARAMS[k]] = k.endsWith('port') ? wholeNumber(v, k) : v;
    else if (kind !== 'trace' && k in FILTER_PARAMS) filter[FILTER_PARAMS[k]] = k.endsWith('port') ? wholeNumber(v, k) : v;
    else throw new QueryError(`unknown parameter "${k}"`);
  }
  if (Object.keys(range).length) out.range = range;
  if (Object.keys(filter).length) out.filter = filter;
  if (Object.keys(flow).length) out.flow = flow;
  return out;
}

function httpStatus(code: Code): 400 | 401 | 429 | 503 | 504 | 500 {
  if (code === Code.InvalidArgument) return 400;
  if (code === Code.Unauthenticated) return 401;
  if (code === Code.ResourceExhausted) return 429;
  if (code === Code.DeadlineExceeded) return 504;
  if (code === Code.Unavailable) return 503;
  return 500;
}

export type Env = { Bindings: HttpBindings | Http2Bindings };

export interface ApiAppOptions extends QueryContext {
  tokens: string[];
  log: (line: string) => void;
  /** Largest request body (api.maxBodyBytes); routes in `bodyLimits` keep their own. */
  maxBodyBytes?: number;
  /** Concurrency, time and memory of store queries; absent: unbounded. */
  queryLimits?: QueryLimits;
}

export interface ApiApp {
  app: Hono<Env>;
  /** The Connect handler (also mounted in the app), for HTTP/2 connections: see server.ts. */
  connect: ReturnType<typeof connectNodeAdapter>;
  /** Paths of the services the Connect handler answers. */
  servicePaths: string[];
  /** Paths answered without a token: the console's page and assets and /healthz (they hold no data). */
  publicPaths: Set<string>;
  /** The bearer tokens every other path needs (empty: none). */
  tokens: string[];
  maxBodyBytes: number;
  /** Paths whose body limit is their own (checked by the route). */
  bodyLimits: Record<string, number>;
}

/** The JSON of a request body, read up to the app's limit (hono/body-limit answers 413 beyond). */
export function bodyLimiter(maxBytes: number, own: Record<string, number>) {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json({ error: `the body is larger than ${maxBytes} bytes (api.maxBodyBytes)`, code: 'resource_exhausted' }, 413),
  });
  return async (c: Context, next: () => Promise<void>) => (c.req.path in own ? next() : limit(c, next));
}

export function createApiApp(opts: ApiAppOptions): ApiApp {
  const allowed = tokenCheck(opts.tokens);
  const store = opts.queryLimits ? limitedStore(opts.store, opts.queryLimits) : opts.store;
  const ctx: QueryContext = { ...opts, store, healthStore: opts.store };
  const service = createQueryService(ctx);
  const auth: Interceptor = (next) => async (req) => {
    // The gRPC health check is open, as probes ask it (it says only whether the store answers).
    if (req.service.typeName !== Health.typeName && !allowed(req.header.get('authorization'))) throw new ConnectError('a valid bearer token is required', Code.Unauthenticated);
    return next(req);
  };
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Server reflection describes what the router serves; it needs the token like the query
  // service (only the health check is open).
  const reflection = reflectionServices([QueryService, Health]);
  const connect = connectNodeAdapter({
    routes: (router) =>
      router
        .service(QueryService, service)
        .service(Health, healthService(opts.store))
        .service(ServerReflection, reflection.v1)
        .service(ServerReflectionV1alpha, reflection.v1alpha),
    interceptors: [auth],
    readMaxBytes: maxBodyBytes,
    // The same request JSON over Connect as over the HTTP/JSON routes: unknown fields refused.
    jsonOptions: { ignoreUnknownFields: false },
  });
  const app = new Hono<Env>();
  const bodyLimits: Record<string, number> = {};

  const servicePaths = [SERVICE_PATH, HEALTH_PATH, ...REFLECTION_PATHS];
  for (const path of servicePaths) {
    app.all(`${path}*`, (c) => {
      connect(c.env.incoming as never, c.env.outgoing as never);
      return RESPONSE_ALREADY_SENT;
    });
  }

  const publicPaths = new Set<string>(['/healthz', '/readyz', `${HEALTH_PATH}Check`, `${HEALTH_PATH}Watch`]);
  app.use('*', bodyLimiter(maxBodyBytes, bodyLimits));
  app.use('*', async (c, next) => {
    if (!publicPaths.has(c.req.path) && !allowed(c.req.header('authorization'))) return c.json({ error: 'a valid bearer token is required' }, 401, { 'WWW-Authenticate': 'Bearer' });
    return next();
  });

  const fail = (c: Context, e: unknown) => {
    const err = e instanceof ConnectError ? e : new ConnectError((e as Error).message, e instanceof QueryError ? Code.InvalidArgument : Code.Unavailable);
    return c.json({ error: err.rawMessage, code: Code[err.code] }, httpStatus(err.code));
  };

  /** A GET (query string) and POST (the request's JSON) route of one method. */
  const route = <I extends DescMessage, O extends DescMessage>(
    path: string,
    kind: 'aggregate' | 'trace' | 'top' | 'spreaders' | 'alerts' | 'records',
    input: I,
    output: O,
    call: (req: MessageShape<I>) => Promise<MessageShape<O>>,
  ) => {
    const run = async (c: Context, json: unknown) => {
      try {
        let req: MessageShape<I>;
        try {
          req = fromJson(input, json as JsonValue);
        } catch (e) {
          throw new QueryError(`request: ${(e as Error).message}`);
        }
        return c.json(toJson(output, await call(req)) as object);
      } catch (e) {
        return fail(c, e);
      }
    };
    app.get(path, async (c) => {
      let json: Record<string, unknown>;
      try {
        json = queryToJson(c.req.query(), kind);
      } catch (e) {
        return fail(c, e);
      }
      return run(c, json);
    });
    app.post(path, async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return fail(c, new QueryError('request: the body is not JSON'));
      }
      return run(c, body);
    });
  };

  const s = service;
  // For load balancers and probes: no token and nothing about the data. /healthz: the process
  // answers; /readyz: the store answers too.
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', async (c) => {
    const ping = await opts.store.client.ping().catch(() => ({ success: false }));
    return ping.success ? c.text('ok\n') : c.text('unavailable\n', 503);
  });
  app.get('/api/v1/health', async (c) => {
    const h = await s.health();
    return c.json(toJson(HealthResponseSchema, h) as object, h.ok ? 200 : 503);
  });
  app.get('/api/v1/tasks', async (c) => {
    try {
      return c.json(toJson(ListTasksResponseSchema, await s.listTasks()) as object);
    } catch (e) {
      return fail(c, e);
    }
  });
  route('/api/v1/flows', 'aggregate', AggregateFlowsRequestSchema, AggregateFlowsResponseSchema, (r) => s.aggregateFlows(r));
  route('/api/v1/trace', 'trace', TraceFlowRequestSchema, TraceFlowResponseSchema, (r) => s.traceFlow(r));
  route('/api/v1/heavy-hitters', 'top', TopHeavyHittersRequestSchema, TopHeavyHittersResponseSchema, (r) => s.topHeavyHitters(r));
  route('/api/v1/spreaders', 'spreaders', TopSpreadersRequestSchema, TopSpreadersResponseSchema, (r) => s.topSpreaders(r));
  route('/api/v1/alerts', 'alerts', ListAlertsRequestSchema, ListAlertsResponseSchema, (r) => s.listAlerts(r));
  route('/api/v1/flow-records', 'records', ListFlowRecordsRequestSchema, ListFlowRecordsResponseSchema, (r) => s.listFlowRecords(r));

  mountGrafana(app, ctx);
  mountPcap(app, { store: opts.store, ...packetsSettings(opts), log: opts.log });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((e, c) => {
    opts.log(`api: ${c.req.method} ${c.req.path}: ${e.message}`);
    return c.json({ error: e.message }, 500);
  });
  return { app, connect, servicePaths, publicPaths, tokens: opts.tokens, maxBodyBytes, bodyLimits };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The shape of a Grafana query body, checked before it is read (a QueryError names the part). */
function checkGrafanaQuery(body: unknown): void {
  if (!isObject(body)) throw new QueryError('request: the body must be a JSON object');
  if (!isObject(body.range)) throw new QueryError('range: an object with from and to is required');
  if (body.targets !== undefined && !Array.isArray(body.targets)) throw new QueryError('targets: must be a list');
  for (const [i, t] of ((body.targets as unknown[]) ?? []).entries()) {
    if (!isObject(t)) throw new QueryError(`targets[${i}]: must be an object`);
    if (t.target !== undefined && typeof t.target !== 'string') throw new QueryError(`targets[${i}].target: must be text`);
    if (t.payload !== undefined && !isObject(t.payload)) throw new QueryError(`targets[${i}].payload: must be an object`);
  }
  if (Array.isArray(body.targets) && body.targets.length > 100) throw new QueryError(`targets: ${body.targets.length} targets; at most 100`);
}

/** Grafana's JSON datasource: `/grafana` answers the connection test, `search`/`metrics` list
 * the series, `query` returns them per window over the requested range. Series: `packets` and
 * `bytes` of every stored window, and `<exact task>.packets|bytes` (filtered by the target's
 * payload: ip, port, protocol, source). */
function mountGrafana(app: Hono<Env>, opts: QueryContext): void {
  const metrics = async () => {
    const tasks = (await listTasks(opts.store)).filter((t) => t.type === 'exact');
    return ['packets', 'bytes', ...tasks.flatMap((t) => [`${t.name}.packets`, `${t.name}.bytes`])];
  };
  app.get('/grafana', (c) => c.json({ ok: true }));
  app.get('/grafana/', (c) => c.json({ ok: true }));
  app.post('/grafana/search', async (c) => c.json(await metrics()));
  app.post('/grafana/metrics', async (c) => c.json((await metrics()).map((m) => ({ label: m, value: m }))));
  app.post('/grafana/metric-payload-options', (c) => c.json([]));
  app.post('/grafana/query', async (c) => {
    type Target = { target?: string; refId?: string; hide?: boolean; payload?: Record<string, unknown> };
    let body: { range?: { from?: string; to?: string }; targets?: Target[]; maxDataPoints?: number };
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'request: the body is not JSON' }, 400);
    }
    try {
      checkGrafanaQuery(body);
      const { from: rawFrom, to: rawTo } = body.range as { from?: unknown; to?: unknown };
      if (typeof rawFrom !== 'string' || typeof rawTo !== 'string') throw new QueryError('range: from and to must be RFC 3339 times');
      const from = epochMs(rawFrom, 'range.from');
      const to = epochMs(rawTo, 'range.to');
      const range = { startNs: BigInt(from) * 1_000_000n, endNs: BigInt(to) * 1_000_000n };
      const out = [];
      for (const t of body.targets ?? []) {
        if (t.hide || !t.target) continue;
        const dot = t.target.lastIndexOf('.');
        const [name, metric] = dot < 0 ? ['', t.target] : [t.target.slice(0, dot), t.target.slice(dot + 1)];
        if (metric !== 'packets' && metric !== 'bytes') throw new QueryError(`target: "${t.target}" must end in packets or bytes`);
        const task = name ? await findTask(opts.store, name) : undefined;
        const p = t.payload ?? {};
        const series = await windowSeries(opts.store, {
          task, range, metric, limit: opts.maxLimit,
          filter: { ip: p.ip as string | undefined, port: p.port === undefined ? undefined : Number(p.port), protocol: p.protocol as string | undefined, source: p.source as string | undefined },
        });
        out.push({ target: t.target, refId: t.refId, datapoints: series.map((s) => [Number(s.value), Number(s.startNs / 1_000_000n)]) });
      }
      return c.json(out);
    } catch (e) {
      const limited = limitError(e);
      if (limited) return c.json({ error: limited.rawMessage }, httpStatus(limited.code));
      return c.json({ error: (e as Error).message }, e instanceof QueryError ? 400 : 503);
    }
  });
  app.post('/grafana/annotations', (c) => c.json([]));
}
