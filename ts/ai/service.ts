// The AiService (proto/netspectra/v1/ai.proto): alerts read by the model, and questions answered
// from the query API's data, streamed. Served like the query API: Connect, gRPC and gRPC-web on
// one port (ts/api/server.ts), the same bearer tokens.
import { create } from '@bufbuild/protobuf';
import { timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type Interceptor, type ServiceImpl } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { HttpBindings, Http2Bindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { SEVERITIES, type AlertEvent, type Severity } from '../shared/index.js';
import { tokenCheck } from '../api/guard.js';
import { DEFAULT_MAX_BODY_BYTES, type ApiApp } from '../api/http.js';
import type { AiConfig } from '../config/index.js';
import { AiService, AnalyzeAlertResponseSchema, AskResponseSchema, type AnalyzeAlertRequest, type AskRequest, type AskResponse } from '../gen/netspectra/v1/ai_pb.js';
import { EnrichmentSchema, type Alert } from '../gen/netspectra/v1/query_pb.js';
import { analyzeAlert } from './enrich.js';
import { createQueryClient, gatherGrounding } from './grounding.js';
import { createChatModel, ModelError, type ChatMessage } from './openai.js';

const MAX_QUESTION = 4000;

const ASK_SYSTEM = `You are a network security analyst assistant for NetSpectra, a network traffic monitor
that counts packets, bytes and distinct peers per time window (no payloads). Answer the
engineer's question from the data in their message only. Never invent addresses or numbers: when
a section is unavailable, or the data cannot answer the question, say so and say what to look at
instead. Count-Min figures are estimates that never undercount; spreads are estimated distinct
counts. Be concise: short paragraphs or a list, plain text, citing the addresses and numbers you
rely on.`;

export interface AiServiceOptions {
  ai: AiConfig;
  /** The query API answers are grounded in, and its bearer token (empty: none). */
  queryUrl: string;
  queryToken: string;
  /** Where the model's key is read (ai.keyEnv). */
  env?: NodeJS.ProcessEnv;
  log: (line: string) => void;
  now?: () => number;
}

/** The endpoint refused the request as configured (key, model name, parameters): retrying will
 * not help. 429 is its rate limit; anything else is the endpoint being unwell. */
function modelCode(e: ModelError): Code {
  switch (e.kind) {
    case 'timeout':
      return Code.DeadlineExceeded;
    case 'cancelled':
      return Code.Canceled;
    case 'malformed':
      return Code.Internal;
    case 'http':
      if (e.status === 429) return Code.ResourceExhausted;
      return [400, 401, 403, 404, 422].includes(e.status) ? Code.FailedPrecondition : Code.Unavailable;
    default:
      return Code.Unavailable;
  }
}

function asConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof ModelError) return new ConnectError(e.message, modelCode(e));
  return ConnectError.from(e, Code.Internal);
}

const isoOf = (t: Timestamp | undefined) => (t ? new Date(timestampMs(t)).toISOString() : '');

/** The proto Alert as the alert engine's event (what enrichment reads). */
export function alertFromProto(a: Alert): AlertEvent {
  return {
    id: a.id, rule: a.rule, state: a.state === 'resolved' ? 'resolved' : 'firing', repeat: a.repeat,
    severity: (SEVERITIES as readonly string[]).includes(a.severity) ? (a.severity as Severity) : 'warning',
    summary: a.summary, description: a.description, task: a.task, metric: a.metric, op: a.op, threshold: a.threshold,
    thresholdText: a.thresholdText, value: a.value, valueText: a.valueText, key: { ...a.key }, keyText: a.keyText, labels: { ...a.labels },
    startsAt: isoOf(a.startsAt), endsAt: a.endsAt ? isoOf(a.endsAt) : null, at: isoOf(a.at), windowStart: isoOf(a.windowStart),
    windowEnd: isoOf(a.windowEnd), source: a.source,
  };
}

const NO_MODEL = 'no model is configured: set ai.baseUrl and ai.model (NETSPECTRA_AI_BASE_URL, NETSPECTRA_AI_MODEL)';
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function createAiService(opts: AiServiceOptions): ServiceImpl<typeof AiService> {
  const { ai, log } = opts;
  const model = ai.baseUrl && ai.model ? createChatModel(ai, opts.env) : null;
  const query = createQueryClient(opts.queryUrl, opts.queryToken);
  const now = opts.now ?? Date.now;

  return {
    async analyzeAlert(req: AnalyzeAlertRequest, ctx: HandlerContext) {
      if (!model) throw new ConnectError(NO_MODEL, Code.FailedPrecondition);
      if (!req.alert || (!req.alert.rule && !req.alert.summary)) throw new ConnectError('alert: required, with at least its rule or summary', Code.InvalidArgument);
      const t0 = now();
      try {
        const e = await analyzeAlert(model, alertFromProto(req.alert), ctx.signal, ai.enrichTimeout);
        log(`ai: alert ${req.alert.rule} analysed in ${secs(now() - t0)}`);
        return create(AnalyzeAlertResponseSchema, { enrichment: create(EnrichmentSchema, e) });
      } catch (e) {
        const err = asConnectError(e);
        log(`ai: alert ${req.alert.rule} not analysed after ${secs(now() - t0)}: ${err.rawMessage} (${Code[err.code]})`);
        throw err;
      }
    },

    async *ask(req: AskRequest, ctx: HandlerContext): AsyncGenerator<AskResponse> {
      const question = req.question.trim();
      if (!question) throw new ConnectError('question: empty', Code.InvalidArgument);
      if (question.length > MAX_QUESTION) throw new ConnectError(`question: ${question.length} characters, more than the ${MAX_QUESTION} allowed`, Code.InvalidArgument);
      if (!model) throw new ConnectError(NO_MODEL, Code.FailedPrecondition);
      const t0 = now();
      const deadline = AbortSignal.timeout(ai.timeout * 1000);
      const signal = AbortSignal.any([ctx.signal, deadline]);
      let started = false;
      let chars = 0;
      try {
        // Half the time at most for the data (20 s a call), so the model keeps time to answer.
        const g = await gatherGrounding({ query, range: req.range, source: req.source, signal, callTimeoutMs: Math.min(ai.timeout * 500, 20_000), nowMs: now() });
        if (deadline.aborted) throw new ConnectError(`no answer within ${ai.timeout} s: the query API ${opts.queryUrl} was still answering`, Code.DeadlineExceeded);
        if (ctx.signal.aborted) throw new ConnectError('the client cancelled the question', Code.Canceled);
        if (!g.reached) throw new ConnectError(`no data from the query API ${opts.queryUrl}: ${g.failure}`, Code.Unavailable);
        g.summary.model = model.model;
        yield create(AskResponseSchema, { part: { case: 'grounding', value: g.summary } });
        const messages: ChatMessage[] = [
          { role: 'system', content: ASK_SYSTEM },
          { role: 'user', content: `${g.prompt}\n\nQuestion: ${question}` },
        ];
        for await (const delta of model.stream(messages, { signal, timeout: ai.timeout })) {
          started = true;
          chars += delta.length;
          yield create(AskResponseSchema, { part: { case: 'delta', value: delta } });
        }
        const missing = g.summary.sections.filter((s) => s.error).length;
        log(`ai: question answered in ${secs(now() - t0)}: ${chars} characters from ${model.model}; ${g.summary.sections.length} data sections (${missing} unavailable), ${g.summary.rangeNote}`);
      } catch (e) {
        const err = asConnectError(e);
        log(`ai: question failed after ${secs(now() - t0)}${started ? ` and ${chars} characters` : ''}: ${err.rawMessage} (${Code[err.code]})`);
        if (started) yield create(AskResponseSchema, { part: { case: 'error', value: err.rawMessage } });
        throw err;
      }
    },
  };
}

export interface AiAppOptions extends AiServiceOptions {
  /** Bearer tokens (api.tokens); empty: no token required. */
  tokens: string[];
  maxBodyBytes?: number;
}

/** The service mounted for ts/api/server.ts's `listen` (one port, HTTP/1.1 and HTTP/2). */
export function createAiApp(opts: AiAppOptions): ApiApp {
  const allowed = tokenCheck(opts.tokens);
  const auth: Interceptor = (next) => async (req) => {
    if (!allowed(req.header.get('authorization'))) throw new ConnectError('a valid bearer token is required', Code.Unauthenticated);
    return next(req);
  };
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const connect = connectNodeAdapter({
    routes: (router) => router.service(AiService, createAiService(opts)),
    interceptors: [auth],
    readMaxBytes: maxBodyBytes,
    jsonOptions: { ignoreUnknownFields: false },
  });
  const servicePath = `/${AiService.typeName}/`;
  const app = new Hono<{ Bindings: HttpBindings | Http2Bindings }>();
  app.all(`${servicePath}*`, (c) => {
    connect(c.env.incoming as never, c.env.outgoing as never);
    return RESPONSE_ALREADY_SENT;
  });
  return { app, connect, servicePaths: [servicePath], publicPaths: new Set(), tokens: opts.tokens, maxBodyBytes, bodyLimits: {} };
}
