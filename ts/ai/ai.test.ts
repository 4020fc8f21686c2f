// The AI concern against a fake OpenAI-wire model (node:http): the chat client's requests,
// streams cut at odd places and every failure; alert enrichment; the AiService over a real query
// API on an embedded store holding a shared capture; `netspectra ai` and `netspectra ask`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import type { AlertEvent } from '../shared/index.js';
import { defaultConfig, loadConfig, type AiConfig } from '../config/index.js';
import { AiService, type AskResponse } from '../gen/netspectra/v1/ai_pb.js';
import { createApiApp } from '../api/http.js';
import { listen, type RunningServer } from '../api/server.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { createAlertAnalyzer, parseEnrichment } from './enrich.js';
import { createQueryClient } from './grounding.js';
import { createChatModel, ModelError, sseEvents, type ChatMessage } from './openai.js';
import { createAiApp, createAiService, type AiServiceOptions } from './service.js';
import { storeCapture } from '../testing/captures.js';

const cli = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const pcaps = join(process.cwd(), '..', 'shared', 'pcaps');
const CAPTURE = 'debian-pathspider-real.pcap';
const KEY = 'sk-test-5f3a9c71d2';
const KEY_ENV = 'NETSPECTRA_TEST_AI_KEY';
const env = { [KEY_ENV]: KEY };
// Multi-byte characters, so a chunk boundary falls inside one.
const ANSWER = 'The busiest source is the one at the top of the table — about 40 % of the bytes → check it. Ünïcödé ✓';
const ENRICH = { hypothesis: 'A backup job to a new server.', severityAssessment: 'Warning fits: no sign of an attack.', nextSteps: ['Ask the backup owner', 'Compare with last week'] };

interface Seen { path: string; headers: IncomingHttpHeaders; body: { model: string; messages: ChatMessage[]; stream: boolean; max_tokens: number; response_format?: unknown } }

// ---- the fake model: the first path segment picks its behaviour ------------------------------

const seen: Seen[] = [];
let fake: Server;
let fakeUrl: string;
const sockets = new Set<Socket>();
const base = (mode: string) => `${fakeUrl}/${mode}/v1`;
const lastSeen = () => seen[seen.length - 1];

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
const completion = (content: string) => JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'fake-model', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });

/** ANSWER as SSE: keep-alive comments, LF and CRLF events, a role-only first delta. */
function sse(text: string, end = `data: ${chunk({}, 'stop')}\n\ndata: [DONE]\n\n`): Buffer {
  let out = `: keep-alive\n\ndata: ${chunk({ role: 'assistant', content: '' })}\n\n`;
  for (let i = 0; i < text.length; i += 9) {
    out += `data: ${chunk({ content: text.slice(i, i + 9) })}${i % 2 ? '\r\n\r\n' : '\n\n'}`;
    if (i === 18) out += ': ping\r\n\r\n';
  }
  return Buffer.from(out + end);
}

/** Writes the body in pieces of 1 to 13 bytes, each in its own write after a turn of the loop. */
async function writeOdd(res: ServerResponse, body: Buffer): Promise<void> {
  const sizes = [1, 5, 2, 13, 3, 7, 1, 1, 11];
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = sizes[i % sizes.length];
    res.write(body.subarray(at, at + n));
    at += n;
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

function answer(mode: string, s: Seen, res: ServerResponse): void | Promise<void> {
  const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const stream = () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  switch (mode) {
    case 'json':
      if (!s.body.stream) return void res.writeHead(200, { 'content-type': 'application/json' }).end(completion(JSON.stringify(ENRICH)));
      stream();
      return writeOdd(res, sse(ANSWER));
    case 'fenced':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(completion(`Here is my reading:\n\`\`\`json\n${JSON.stringify(ENRICH, null, 2)}\n\`\`\`\nHope it helps.`));
    case 'prose':
      // Ignores `stream`: one JSON completion either way.
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(completion('Probably a nightly backup.'));
    case 'err500':
      return json(500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } });
    case 'err401':
      // Echoes the key, as careless proxies do: it must not reach an error message.
      return json(401, { error: { message: `Incorrect API key provided: ${String(s.headers.authorization).slice(7)}.`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    case 'malformed':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [ not json');
    case 'midstream':
      stream();
      res.write(`data: ${chunk({ content: 'Partial ' })}\n\n`);
      return void setTimeout(() => res.end(`data: ${JSON.stringify({ error: { message: 'model overloaded', type: 'server_error' } })}\n\n`), 20);
    case 'cut':
      stream();
      res.write(`data: ${chunk({ content: 'Partial ' })}\n\n`);
      return void setTimeout(() => res.destroy(), 20);
    case 'hangstream':
      stream();
      return void res.write(`data: ${chunk({ content: 'Thinking' })}\n\n`);
    case 'hang':
      return;
    default:
      return json(404, { error: { message: `unknown mode ${mode}` } });
  }
}

function startFake(): Promise<void> {
  fake = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const m = /^\/([a-z0-9]+)\/v1\/chat\/completions$/.exec(req.url ?? '');
      let body: Seen['body'];
      try {
        body = JSON.parse(raw) as Seen['body'];
      } catch {
        return void res.writeHead(400).end('{"error":{"message":"body is not JSON"}}');
      }
      // What every OpenAI-compatible server insists on.
      if (req.method !== 'POST' || !m || typeof body.model !== 'string' || !Array.isArray(body.messages) || !body.messages.every((x) => typeof x.content === 'string')) {
        return void res.writeHead(400).end('{"error":{"message":"not a chat completion request"}}');
      }
      const s = { path: req.url!, headers: req.headers, body };
      seen.push(s);
      void answer(m[1], s, res);
    });
  });
  fake.on('connection', (s) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  return new Promise((resolve) => fake.listen(0, '127.0.0.1', () => {
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    resolve();
  }));
}

const aiConfig = (mode: string, over: Partial<AiConfig> = {}): AiConfig => ({ ...defaultConfig().ai, baseUrl: base(mode), model: 'fake-model', keyEnv: KEY_ENV, ...over });
const messages: ChatMessage[] = [{ role: 'system', content: 'You answer briefly.' }, { role: 'user', content: 'Hello?' }];

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejects<T>(p: Promise<T>, kind: ModelError['kind'], message: RegExp): Promise<ModelError> {
  const e = await p.then(() => assert.fail('expected a rejection'), (x: unknown) => x);
  assert.ok(e instanceof ModelError, String(e));
  assert.equal(e.kind, kind, e.message);
  assert.match(e.message, message);
  assert.ok(!e.message.includes(KEY), 'the key never appears in an error');
  return e;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const alert: AlertEvent = {
  id: 'a1', rule: 'syn_flood', state: 'firing', repeat: false, severity: 'warning', summary: 'syn packets from 10.1.0.5 at 52 kpps over 50 kpps',
  description: 'Many SYNs', task: 'src_ip', metric: 'packets', op: '>', threshold: 50_000, thresholdText: '50kpps', value: 52_000, valueText: '52 kpps',
  key: { SrcIP: '10.1.0.5' }, keyText: 'SrcIP=10.1.0.5', labels: {}, startsAt: '2024-05-01T10:00:00.000Z', endsAt: null, at: '2024-05-01T10:01:00.000Z',
  windowStart: '2024-05-01T10:00:00.000Z', windowEnd: '2024-05-01T10:01:00.000Z', source: 'probe-1',
};

describe('ai', () => {
  before(startFake);
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => fake.close(r));
  });

  describe('OpenAI-compatible chat client', () => {
    test('a completion: the request carries the model, the messages, max_tokens and the key from its variable', async () => {
      const m = createChatModel(aiConfig('json', { maxTokens: 123 }), env);
      assert.equal(await m.complete(messages), JSON.stringify(ENRICH));
      const s = lastSeen();
      assert.equal(s.path, '/json/v1/chat/completions');
      assert.deepEqual({ model: s.body.model, messages: s.body.messages, max_tokens: s.body.max_tokens, stream: s.body.stream }, { model: 'fake-model', messages, max_tokens: 123, stream: false });
      assert.equal(s.headers.authorization, `Bearer ${KEY}`);
      assert.match(String(s.headers['content-type']), /application\/json/);
      assert.equal(s.body.response_format, undefined, 'no response_format: some servers reject it');
      // A trailing slash on the base URL changes nothing; no variable, no Authorization header.
      await createChatModel({ ...aiConfig('json'), baseUrl: `${base('json')}/` }, {}).complete(messages);
      assert.equal(lastSeen().path, '/json/v1/chat/completions');
      assert.equal(lastSeen().headers.authorization, undefined);
    });

    test('a stream cut at odd places (inside CRLF and UTF-8 characters, between comments) gives the text in order', async () => {
      const parts = await collect(createChatModel(aiConfig('json'), env).stream(messages));
      assert.equal(parts.join(''), ANSWER);
      assert.ok(parts.length > 5, 'deltas arrive as they come');
      assert.equal(lastSeen().body.stream, true);
      assert.equal(lastSeen().headers.accept, 'text/event-stream');
      // A server that ignores `stream` answers one JSON completion: taken whole.
      assert.deepEqual(await collect(createChatModel(aiConfig('prose'), env).stream(messages)), ['Probably a nightly backup.']);
    });

    test('the SSE reader: every split of a body gives the same events', async () => {
      const text = ': hi\r\ndata: {"a":1}\r\n\r\nevent: error\ndata: line 1\ndata: line 2\n\ndata: é✓\r\rdata:last';
      const want = [{ event: '', data: '{"a":1}' }, { event: 'error', data: 'line 1\nline 2' }, { event: '', data: 'é✓' }, { event: '', data: 'last' }];
      const bytes = Buffer.from(text);
      for (let cut = 1; cut < bytes.length; cut++) {
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(bytes.subarray(0, cut));
            c.enqueue(bytes.subarray(cut));
            c.close();
          },
        });
        const got = [];
        for await (const e of sseEvents(body)) got.push(e);
        assert.deepEqual(got, want, `cut at ${cut}`);
      }
    });

    test('HTTP errors carry the status and the API message; the key never appears', async () => {
      const e500 = await rejects(createChatModel(aiConfig('err500'), env).complete(messages), 'http', /^the model endpoint answered HTTP 500 Internal Server Error: The server had an error while processing your request\. \(server_error\)$/);
      assert.equal(e500.status, 500);
      const e401 = await rejects(createChatModel(aiConfig('err401'), env).complete(messages), 'http', /HTTP 401 Unauthorized: Incorrect API key provided: \[redacted\]\. \(invalid_request_error, invalid_api_key\)/);
      assert.equal(e401.status, 401);
      await rejects(collect(createChatModel(aiConfig('err500'), env).stream(messages)), 'http', /HTTP 500/);
    });

    test('a model that never answers times out in time, naming the limit; a cancelled call says so', async () => {
      const t0 = Date.now();
      await rejects(createChatModel(aiConfig('hang'), env).complete(messages, { timeout: 0.3 }), 'timeout', /^the model did not answer within 0\.3 s$/);
      assert.ok(Date.now() - t0 < 2000, `gave up after ${Date.now() - t0} ms`);
      await rejects(collect(createChatModel(aiConfig('hangstream'), env).stream(messages, { timeout: 0.3 })), 'timeout', /^the model did not finish its answer within 0\.3 s$/);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await rejects(createChatModel(aiConfig('hang'), env).complete(messages, { signal: ac.signal }), 'cancelled', /cancelled/);
    });

    test('malformed answers, an error inside the stream, a broken and a refused connection are told apart', async () => {
      await rejects(createChatModel(aiConfig('malformed'), env).complete(messages), 'malformed', /^the model endpoint's answer is not JSON: "\{\\"choices\\": \[ not json"$/);
      const parts: string[] = [];
      const midstream = (async () => {
        for await (const p of createChatModel(aiConfig('midstream'), env).stream(messages)) parts.push(p);
      })();
      await rejects(midstream, 'model', /^the model failed mid-answer: model overloaded \(server_error\)$/);
      assert.deepEqual(parts, ['Partial ']);
      await rejects(collect(createChatModel(aiConfig('cut'), env).stream(messages)), 'network', new RegExp(`^the connection to the model at ${base('cut')} broke: `));
      const port = await closedPort();
      await rejects(createChatModel({ ...aiConfig('json'), baseUrl: `http://127.0.0.1:${port}/v1` }, env).complete(messages), 'network', new RegExp(`^cannot reach the model at http://127\\.0\\.0\\.1:${port}/v1: connection refused$`));
      assert.throws(() => createChatModel({ ...aiConfig('json'), baseUrl: 'localhost 11434' }), /ai\.baseUrl: "localhost 11434" is not a URL/);
    });
  });

  describe('alert enrichment', () => {
    test('no analyzer without a base URL, a model, or with enrich off', () => {
      assert.equal(createAlertAnalyzer({ ...aiConfig('json'), baseUrl: '' }, env), null);
      assert.equal(createAlertAnalyzer({ ...aiConfig('json'), model: '' }, env), null);
      assert.equal(createAlertAnalyzer({ ...aiConfig('json'), enrich: false }, env), null);
    });

    test('JSON, fenced JSON and prose answers become an Enrichment; the alert goes in as compact JSON', async () => {
      const want = { ...ENRICH, model: 'fake-model' };
      assert.deepEqual(await createAlertAnalyzer(aiConfig('json'), env)!(alert, AbortSignal.timeout(5000)), want);
      const [system, user] = lastSeen().body.messages;
      assert.equal(system.role, 'system');
      assert.match(system.content, /network security analyst/);
      assert.match(system.content, /"hypothesis".*"severityAssessment".*"nextSteps"/s);
      assert.equal(user.content, `Alert:\n${JSON.stringify({ rule: 'syn_flood', state: 'firing', severity: 'warning', summary: alert.summary, description: 'Many SYNs', task: 'src_ip', metric: 'packets', op: '>', thresholdText: '50kpps', valueText: '52 kpps', key: { SrcIP: '10.1.0.5' }, keyText: 'SrcIP=10.1.0.5', startsAt: alert.startsAt, at: alert.at, windowStart: alert.windowStart, windowEnd: alert.windowEnd, source: 'probe-1' })}`);
      assert.equal(lastSeen().body.stream, false);
      assert.deepEqual(await createAlertAnalyzer(aiConfig('fenced'), env)!(alert, AbortSignal.timeout(5000)), want);
      assert.deepEqual(await createAlertAnalyzer(aiConfig('prose'), env)!(alert, AbortSignal.timeout(5000)), { hypothesis: 'Probably a nightly backup.', severityAssessment: '', nextSteps: [], model: 'fake-model' });
    });

    test('lenient parsing: reasoning, snake_case, JSON amid prose, a single step', () => {
      assert.deepEqual(parseEnrichment('<think>hmm, SYNs</think>\nSure! {"hypothesis":"h","severity_assessment":"s","next_steps":"look"} done', 'm'), { hypothesis: 'h', severityAssessment: 's', nextSteps: ['look'], model: 'm' });
      assert.deepEqual(parseEnrichment('{"unrelated": 1}', 'm'), { hypothesis: '{"unrelated": 1}', severityAssessment: '', nextSteps: [], model: 'm' });
      assert.throws(() => parseEnrichment('  <think>x</think> ', 'm'), /the model gave an empty answer/);
    });

    test('a model slower than enrichTimeout: the analyzer rejects in time with a clear error', async () => {
      const analyze = createAlertAnalyzer(aiConfig('hang', { enrichTimeout: 0.3 }), env)!;
      const t0 = Date.now();
      await rejects(analyze(alert, AbortSignal.timeout(300)), 'timeout', /^the model did not answer within 0\.3 s$/);
      assert.ok(Date.now() - t0 < 2000, `gave up after ${Date.now() - t0} ms`);
    });
  });

  // One chdb session per process: the store lives and dies inside this block.
  describe('AiService over the query API of an embedded store, and netspectra ai / ask', () => {
    const API_TOKEN = 'api-token-31c9';
    const AI_TOKEN = 'ai-token-77e0';
    let dir: string;
    let store: Store;
    let api: RunningServer;
    let ai: RunningServer;
    let topTalker: string;
    const logs: string[] = [];
    const bearer = (token: string): Interceptor => (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const options = (mode: string, over: Partial<AiServiceOptions> = {}, aiOver: Partial<AiConfig> = {}): AiServiceOptions => ({
      ai: aiConfig(mode, aiOver), queryUrl: api.url, queryToken: API_TOKEN, env, log: (l) => logs.push(l), ...over,
    });
    /** The service in process, no port. */
    const inProcess = (o: AiServiceOptions) => createClient(AiService, createRouterTransport(({ service }) => service(AiService, createAiService(o))));
    const overHttp = (token = AI_TOKEN) => createClient(AiService, createConnectTransport({ baseUrl: ai.url, httpVersion: '1.1', interceptors: [bearer(token)] }));

    async function ask(client: ReturnType<typeof overHttp>, question: string, range?: { start: number; end: number }) {
      const got: AskResponse['part'][] = [];
      let error: ConnectError | null = null;
      try {
        for await (const r of client.ask({ question, range: range && { start: timestampFromMs(range.start), end: timestampFromMs(range.end) } })) got.push(r.part);
      } catch (e) {
        error = ConnectError.from(e);
      }
      const text = got.filter((p) => p.case === 'delta').map((p) => p.value).join('');
      return { parts: got, text, grounding: got[0]?.case === 'grounding' ? got[0].value : undefined, error };
    }

    function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const p = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...extraEnv } });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
        p.once('error', reject);
        p.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
      });
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'netspectra-ai-'));
      const cfg = loadConfig({ overrides: { 'storage.path': dir, 'storage.source': '' } });
      const storage = openWindowStorage(cfg.storage, { source: `analyze:${CAPTURE}`, log: () => {} })!;
      await storeCapture(join(pcaps, CAPTURE), cfg, storage);
      const stats = await storage.close();
      assert.equal(stats.spillRows + stats.rowsLost, 0, 'every row written');
      store = await openStore(cfg.storage);
      api = await listen(createApiApp({ store, maxLimit: 10_000, live: null, tokens: [API_TOKEN], log: () => {} }), '127.0.0.1', 0);
      ai = await listen(createAiApp({ ...options('json'), tokens: [AI_TOKEN] }), '127.0.0.1', 0);
      const top = await createQueryClient(api.url, API_TOKEN).aggregateFlows({ task: 'src_ip', orderBy: 'bytes', limit: 1 });
      topTalker = top.rows[0].key!.srcIp;
    });

    after(async () => {
      await ai?.close();
      await api?.close();
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('AnalyzeAlert over Connect and gRPC: the enrichment of the model', async () => {
      const grpc = createClient(AiService, createGrpcTransport({ baseUrl: ai.url, interceptors: [bearer(AI_TOKEN)] }));
      for (const client of [overHttp(), grpc]) {
        const r = await client.analyzeAlert({ alert: { rule: 'syn_flood', severity: 'critical', summary: alert.summary, key: { SrcIP: '10.1.0.5' }, at: timestampFromMs(Date.parse(alert.at)) } });
        assert.deepEqual({ ...r.enrichment!, $typeName: undefined }, { $typeName: undefined, ...ENRICH, model: 'fake-model' });
        assert.match(lastSeen().body.messages[1].content, /"rule":"syn_flood","state":"firing","severity":"critical".*"key":\{"SrcIP":"10\.1\.0\.5"\}.*"at":"2024-05-01T10:01:00\.000Z"/);
      }
    });

    test('Ask streams the model text after a grounding in the stored capture (its top talker is in the prompt)', async () => {
      const n = seen.length;
      const r = await ask(overHttp(), '  Which host sends the most bytes?  ');
      assert.equal(r.error, null, r.error?.message);
      assert.equal(r.parts[0].case, 'grounding');
      assert.equal(r.text, ANSWER);
      assert.ok(r.parts.filter((p) => p.case === 'delta').length > 5, 'the answer came in deltas');
      const g = r.grounding!;
      assert.equal(g.model, 'fake-model');
      // The capture is years old: nothing in the last hour, so everything stored.
      assert.equal(g.rangeNote, 'all stored windows (none in the last hour)');
      const section = (name: string) => g.sections.find((s) => s.name === name);
      assert.deepEqual({ task: section('top talkers')?.task, error: section('top talkers')?.error }, { task: 'src_ip', error: '' });
      assert.ok(section('top talkers')!.rows > 0 && section('heavy hitters')!.rows > 0);
      assert.deepEqual(g.sections.filter((s) => s.name.startsWith('spreaders')).map((s) => s.task), ['scanners', 'victims']);
      // ListAlerts may not be served yet: either way the section says what happened.
      const alerts = section('recent alerts')!;
      assert.ok(alerts.error === '' || /^ListAlerts: .* \(\w+\)$/.test(alerts.error), alerts.error);

      assert.equal(seen.length, n + 1, 'one model call');
      const { body, headers } = lastSeen();
      assert.equal(body.stream, true);
      assert.equal(headers.authorization, `Bearer ${KEY}`);
      const prompt = body.messages[1].content;
      assert.match(body.messages[0].content, /network security analyst/);
      assert.ok(prompt.includes(topTalker), `the top talker ${topTalker} is in the prompt:\n${prompt}`);
      assert.match(prompt, /^NetSpectra data, windows starting from \d{4}-.* \(all stored windows \(none in the last hour\)\)\./);
      assert.match(prompt, /## top talkers: sources by bytes \(exact task src_ip, true sums\)\nsource \| packets \| bytes\n/);
      assert.match(prompt, /## heavy hitters by bytes \(Count-Min task heavy_flows,.*\nkey \| packets \| bytes \| windows\n\S+ → \S+ \w+(?: [\w-]+)? \| \d+ \|/);
      assert.match(prompt, /## recent alerts, newest first\n(\(no rows\)|time \| severity|unavailable: ListAlerts: )/);
      assert.match(prompt, /## largest flow records by bytes, with the name the client asked for .*\nflow \| server name \| responder country\/AS \| bytes\n\S+ → \S+ \w+/);
      assert.ok(prompt.endsWith('\n\nQuestion: Which host sends the most bytes?'));
      assert.ok(logs.some((l) => /^ai: question answered in [\d.]+ s: \d+ characters from fake-model; \d+ data sections/.test(l)), logs.join('\n'));
    });

    test('Ask over a requested range with no data says so in the prompt', async () => {
      const r = await ask(overHttp(), 'anything?', { start: Date.parse('2030-01-01T00:00:00Z'), end: Date.parse('2030-01-02T00:00:00Z') });
      assert.equal(r.error, null, r.error?.message);
      assert.equal(r.grounding!.rangeNote, 'requested');
      assert.equal(r.grounding!.sections.find((s) => s.name === 'top talkers')!.rows, 0);
      assert.match(lastSeen().body.messages[1].content, /windows starting from 2030-01-01T00:00:00\.000Z to 2030-01-02T00:00:00\.000Z \(requested\)[\s\S]*## top talkers[^\n]*\n\(no rows\)/);
    });

    test('errors map to Connect codes', async () => {
      const code = async (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e: unknown) => ConnectError.from(e));
      const expect = (e: ConnectError, c: Code, message: RegExp) => {
        assert.equal(Code[e.code], Code[c], e.message);
        assert.match(e.rawMessage, message);
        assert.ok(!e.rawMessage.includes(KEY));
      };
      const ok = inProcess(options('json'));
      expect((await ask(ok, '   ')).error!, Code.InvalidArgument, /^question: empty$/);
      expect((await ask(ok, 'x'.repeat(4001))).error!, Code.InvalidArgument, /4001 characters, more than the 4000 allowed/);
      expect(await code(ok.analyzeAlert({})), Code.InvalidArgument, /^alert: required/);
      const none = inProcess(options('json', {}, { model: '' }));
      expect((await ask(none, 'hi')).error!, Code.FailedPrecondition, /^no model is configured: set ai\.baseUrl and ai\.model/);
      expect(await code(none.analyzeAlert({ alert: { rule: 'r' } })), Code.FailedPrecondition, /no model is configured/);

      const e500 = await ask(inProcess(options('err500')), 'hi');
      assert.equal(e500.parts[0].case, 'grounding', 'the grounding came before the model failed');
      expect(e500.error!, Code.Unavailable, /HTTP 500 Internal Server Error: The server had an error/);
      expect((await ask(inProcess(options('err401')), 'hi')).error!, Code.FailedPrecondition, /HTTP 401 Unauthorized: Incorrect API key provided: \[redacted\]/);
      expect(await code(inProcess(options('malformed')).analyzeAlert({ alert: { rule: 'r' } })), Code.Internal, /not JSON/);

      const t0 = Date.now();
      expect((await ask(inProcess(options('hang', {}, { timeout: 0.5 })), 'hi')).error!, Code.DeadlineExceeded, /^the model did not answer within 0\.5 s$/);
      assert.ok(Date.now() - t0 < 3000, `gave up after ${Date.now() - t0} ms`);
      expect(await code(inProcess(options('hang', {}, { enrichTimeout: 0.2 })).analyzeAlert({ alert: { rule: 'r' } })), Code.DeadlineExceeded, /within 0\.2 s/);

      const mid = await ask(inProcess(options('midstream')), 'hi');
      assert.deepEqual(mid.parts.slice(1), [{ case: 'delta', value: 'Partial ' }, { case: 'error', value: 'the model failed mid-answer: model overloaded (server_error)' }]);
      expect(mid.error!, Code.Unavailable, /model overloaded/);

      const port = await closedPort();
      const down = await ask(inProcess(options('json', { queryUrl: `http://127.0.0.1:${port}` })), 'hi');
      assert.equal(down.parts.length, 0);
      expect(down.error!, Code.Unavailable, new RegExp(`^no data from the query API http://127\\.0\\.0\\.1:${port}: ListTasks: .* \\(Unavailable\\)$`));
      expect((await ask(inProcess(options('json', { queryToken: 'wrong' })), 'hi')).error!, Code.Unavailable, /ListTasks: a valid bearer token is required \(Unauthenticated\)/);
      expect((await ask(overHttp('wrong'), 'hi')).error!, Code.Unauthenticated, /a valid bearer token is required/);
      assert.ok(!logs.join('\n').includes(KEY), 'no log line holds the key');
    });

    test('netspectra ask streams the answer to stdout, the grounding to stderr; usage errors exit 2, failures 1', async () => {
      const r = await runCli(['ask', 'which', 'host sends the most?', '--url', ai.url, '--token', AI_TOKEN]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${ANSWER}\n`);
      assert.match(r.stderr, /^data: \d{4}-\S+ to \d{4}-\S+ \(all stored windows \(none in the last hour\)\); model fake-model\n  top talkers \(src_ip\): \d+ rows\n  heavy hitters \(heavy_flows\): \d+ rows\n  spreaders \(scanners\): \d+ rows\n/);
      assert.ok(lastSeen().body.messages[1].content.endsWith('Question: which host sends the most?'));

      const j = await runCli(['ask', 'top talkers?', '--url', ai.url, '--json'], { NETSPECTRA_API_TOKEN: AI_TOKEN });
      assert.equal(j.code, 0, j.stderr);
      const out = JSON.parse(j.stdout) as { answer: string; grounding: { model: string; sections: { name: string; rows?: number }[] } };
      assert.equal(out.answer, ANSWER);
      assert.equal(out.grounding.model, 'fake-model');
      assert.ok(out.grounding.sections.some((s) => s.name === 'top talkers' && s.rows! > 0));

      const denied = await runCli(['ask', 'hi', '--url', ai.url, '--token', 'wrong']);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /^netspectra: ask: a valid bearer token is required \(http:\/\/127\.0\.0\.1:\d+: Unauthenticated\)\n$/);
      const empty = await runCli(['ask', '--url', ai.url]);
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /ask needs a question/);
    });

    test('netspectra ai serves the AiService from its configuration; the key is never logged', async () => {
      const missing = await runCli(['ai', '--port', '0'], { NETSPECTRA_AI_BASE_URL: '', NETSPECTRA_AI_MODEL: '' });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /ai needs a model: set ai\.baseUrl and ai\.model/);

      const p = spawn(process.execPath, [cli, 'ai', '--port', '0'], {
        env: { ...process.env, NETSPECTRA_AI_BASE_URL: base('json'), NETSPECTRA_AI_MODEL: 'fake-model', NETSPECTRA_AI_KEY_ENV: KEY_ENV, [KEY_ENV]: KEY, NETSPECTRA_API_URL: api.url, NETSPECTRA_API_TOKEN: API_TOKEN, NETSPECTRA_API_TOKENS: '' },
      });
      let err = '';
      try {
        const url = await new Promise<string>((resolve, reject) => {
          p.stderr.on('data', (c: Buffer) => {
            err += c.toString();
            const m = /AiService on (http:\/\/127\.0\.0\.1:\d+) /.exec(err);
            if (m) resolve(m[1]);
          });
          p.once('exit', (code) => reject(new Error(`ai exited (${code}): ${err}`)));
        });
        assert.match(err, new RegExp(`model fake-model at ${base('json')}, key from \\$${KEY_ENV}; data from the query API ${api.url}; no token required`));
        const r = await runCli(['ask', 'who talks most?', '--url', url]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${ANSWER}\n`);
      } finally {
        p.kill('SIGTERM');
        const code = await new Promise((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', resolve)));
        assert.equal(code, 0, `ai stops cleanly on SIGTERM: ${err}`);
      }
      assert.match(err, /ai: question answered in/);
      assert.ok(!err.includes(KEY), 'the key is not in the log');
    });
  });
});
