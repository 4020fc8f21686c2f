// `netspectra ai`: the AiService over the query API and a chat model. `netspectra ask`: its
// client, the answer streamed to stdout as the model writes it.
import { toJson } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createAiApp, createChatModel } from '../ai/index.js';
import { listen } from '../api/server.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { AiService, GroundingSchema, type Grounding } from '../gen/netspectra/v1/ai_pb.js';
import { rulesProblems } from '../alert/rules.js';
import { apiTokens, checkExposure, serverLimits } from '../api/settings.js';

type Values = Record<string, string | boolean | undefined>;
type Log = (line: string) => void;

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : '');
const hostUrl = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
const iso = (t: Timestamp | undefined) => (t ? new Date(timestampMs(t)).toISOString() : '');

export async function aiCommand(values: Values, log: Log, stopped: Promise<void>): Promise<number> {
  const overrides: Record<string, unknown> = {};
  if (typeof values.host === 'string') overrides['ai.host'] = values.host;
  if (typeof values.port === 'string') overrides['ai.port'] = /^\d+$/.test(values.port) ? Number(values.port) : values.port;
  const cfg = loadConfig({ file: values.config as string | undefined, overrides, checks: [rulesProblems] });
  const { ai } = cfg;
  if (!ai.baseUrl || !ai.model) {
    process.stderr.write('netspectra: ai needs a model: set ai.baseUrl and ai.model (NETSPECTRA_AI_BASE_URL, NETSPECTRA_AI_MODEL)\n');
    return 2;
  }
  const endpoint = createChatModel(ai).endpoint;
  const tokens = apiTokens(cfg);
  const queryUrl = cfg.api.url || hostUrl(cfg.api.host, cfg.api.port);
  const queryToken = process.env.NETSPECTRA_API_TOKEN || tokens[0] || '';
  checkExposure(cfg, ai.host, tokens, 'ai');
  const server = await listen(createAiApp({ ai, queryUrl, queryToken, tokens, log, maxBodyBytes: cfg.api.maxBodyBytes }), ai.host, ai.port, { limits: serverLimits(cfg) });
  // The key's variable is named, never its value.
  log(`ai: AiService on ${server.url} (Connect, gRPC, gRPC-web); model ${ai.model} at ${endpoint}, ` +
    `${process.env[ai.keyEnv] ? `key from $${ai.keyEnv}` : `no key ($${ai.keyEnv} is not set)`}; data from the query API ${queryUrl}; ` +
    `${tokens.length ? `${tokens.length} bearer token(s) required` : 'no token required'}`);
  await stopped;
  log('ai: stopping');
  await server.close();
  return 0;
}

function time(v: string | boolean | undefined, name: string): Timestamp | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) throw new Error(`--${name}: "${v}" is not an RFC 3339 time or epoch milliseconds`);
  return timestampFromMs(ms);
}

function groundingText(g: Grounding): string {
  const lines = g.sections.map((s) => `  ${s.name}${s.task && !s.name.includes(s.task) ? ` (${s.task})` : ''}: ${s.error ? `unavailable: ${s.error}` : `${s.rows} rows`}`);
  return `data: ${iso(g.range?.start) || 'start'} to ${iso(g.range?.end) || 'end'} (${g.rangeNote}); model ${g.model}\n${lines.join('\n')}\n`;
}

export async function askCommand(words: string[], values: Values, cfg: NetspectraConfig): Promise<number> {
  const url = str(values.url) || cfg.ai.url || hostUrl(cfg.ai.host, cfg.ai.port);
  const token = str(values.token) || process.env.NETSPECTRA_API_TOKEN || apiTokens(cfg)[0] || '';
  const question = words.join(' ').trim();
  let start: Timestamp | undefined;
  let end: Timestamp | undefined;
  try {
    if (!question) throw new Error('ask needs a question, e.g. netspectra ask "which hosts sent the most bytes?"');
    start = time(values.start, 'start');
    end = time(values.end, 'end');
  } catch (e) {
    process.stderr.write(`netspectra: ${(e as Error).message}\n`);
    return 2;
  }
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  const client = createClient(AiService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [bearer] }));
  let answer = '';
  let grounding: Grounding | undefined;
  try {
    // The server bounds a question by its ai.timeout; this bounds a server that stops answering.
    const stream = client.ask({ question, range: start || end ? { start, end } : undefined }, { timeoutMs: (cfg.ai.timeout + 30) * 1000 });
    for await (const r of stream) {
      if (r.part.case === 'grounding') {
        grounding = r.part.value;
        if (!values.json) process.stderr.write(groundingText(grounding));
      } else if (r.part.case === 'delta') {
        answer += r.part.value;
        if (!values.json) process.stdout.write(r.part.value);
      }
      // An `error` part is followed by the call's failure, reported below.
    }
    if (values.json) process.stdout.write(JSON.stringify({ grounding: grounding ? toJson(GroundingSchema, grounding) : null, answer }, null, 2) + '\n');
    else if (!answer.endsWith('\n')) process.stdout.write('\n');
    return 0;
  } catch (e) {
    if (!(e instanceof ConnectError)) throw e;
    if (!values.json && answer && !answer.endsWith('\n')) process.stdout.write('\n');
    process.stderr.write(`netspectra: ask: ${e.rawMessage} (${url}: ${Code[e.code]})\n`);
    // As query: a request the server calls invalid is a usage error; any other failure is 1.
    return e.code === Code.InvalidArgument ? 2 : 1;
  }
}
