// A minimal client of an OpenAI-compatible `POST {baseUrl}/chat/completions` (OpenAI, Ollama,
// vLLM, llama.cpp, LM Studio, ...), whole answers or streamed as Server-Sent Events. Errors say
// what failed in words a user acts on; the key is sent only in the Authorization header and
// scrubbed from every error text, since some endpoints echo what they received.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ModelConfig {
  baseUrl: string;
  model: string;
  /** Name of the environment variable holding the key; unset or empty: no Authorization. */
  keyEnv: string;
  maxTokens: number;
}

export interface CallOptions {
  /** Cancels the call (a caller's deadline or a client that went away). */
  signal?: AbortSignal;
  /** Seconds: the call gives up after this long, and timeout errors name it. */
  timeout?: number;
}

/** http: the endpoint answered an error status; network: it could not be reached; model: it
 * reported a failure in a 200 answer or mid-stream; malformed: the answer breaks the wire format. */
export type ModelErrorKind = 'http' | 'network' | 'timeout' | 'cancelled' | 'model' | 'malformed';

export class ModelError extends Error {
  constructor(readonly kind: ModelErrorKind, message: string, readonly status = 0) {
    super(message);
    this.name = 'ModelError';
  }
}

export interface ChatModel {
  readonly model: string;
  /** The base URL without credentials or query, for logs and errors. */
  readonly endpoint: string;
  complete(messages: ChatMessage[], opts?: CallOptions): Promise<string>;
  /** The answer's text as it arrives. */
  stream(messages: ChatMessage[], opts?: CallOptions): AsyncGenerator<string, void, undefined>;
}

const seconds = (s: number) => `${+s.toFixed(3)} s`;
const snippet = (s: string) => JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}...` : s);

/** The message of an error body: OpenAI's {error:{message,type,code}}, {error:"..."}, vLLM's
 * {message,type}, or the text itself. */
function apiMessage(body: unknown, text = ''): string {
  const b = body as { error?: unknown; message?: unknown } | null;
  const e = (b && typeof b === 'object' && b.error !== undefined ? b.error : b) as { message?: unknown; type?: unknown; code?: unknown } | string | null;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    const tags = [e.type, e.code].filter((t) => (typeof t === 'string' || typeof t === 'number') && t !== '');
    return tags.length ? `${e.message} (${tags.join(', ')})` : e.message;
  }
  return text.trim() ? snippet(text.trim()) : '(empty body)';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The answer of a non-streamed completion. */
function completionText(text: string): string {
  const j = parseJson(text) as { error?: unknown; choices?: { message?: { content?: unknown; refusal?: unknown } }[] } | undefined;
  if (j === undefined || j === null || typeof j !== 'object') throw new ModelError('malformed', `the model endpoint's answer is not JSON: ${snippet(text)}`);
  if (j.error) throw new ModelError('model', `the model failed: ${apiMessage(j)}`);
  const m = j.choices?.[0]?.message;
  if (typeof m?.content === 'string') return m.content;
  if (typeof m?.refusal === 'string') throw new ModelError('model', `the model refused: ${m.refusal}`);
  throw new ModelError('malformed', `the model endpoint's answer has no choices[0].message.content: ${snippet(text)}`);
}

/** Server-Sent Events as {event, data}, from a body cut anywhere (inside a line, a CRLF, or a
 * UTF-8 character), with LF, CRLF or CR line ends. Comments (keep-alives) are skipped; a last
 * event without its blank line still counts. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  let event = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end, a blank line closes a last line or event left without one.
      buf += done ? `${decoder.decode()}\n\n` : decoder.decode(value, { stream: true });
      const ready: { event: string; data: string }[] = [];
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        // A CR ending the buffer may be the first half of a CRLF: wait for the next chunk.
        if (c === 13 && i + 1 === buf.length && !done) break;
        const line = buf.slice(start, i);
        if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
        if (line === '') {
          if (data.length) ready.push({ event, data: data.join('\n') });
          data = [];
          event = '';
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const v = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
          if (field === 'data') data.push(v);
          else if (field === 'event') event = v;
        }
      }
      buf = buf.slice(start);
      yield* ready;
      if (done) return;
    }
  } finally {
    // Stops the download when the reader stops early (an error, or a consumer that broke off).
    await reader.cancel().catch(() => {});
  }
}

/** Why fetch failed, from undici's cause. */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ENOTFOUND: 'host not found', EAI_AGAIN: 'host name lookup failed', ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', UND_ERR_CONNECT_TIMEOUT: 'connect timeout', UND_ERR_SOCKET: 'connection closed',
  };
  return (cause?.code && known[cause.code]) || cause?.message || (e as Error).message;
}

export function createChatModel(cfg: ModelConfig, env: NodeJS.ProcessEnv = process.env): ChatModel {
  let url: URL;
  try {
    url = new URL(`${cfg.baseUrl.replace(/\/+$/, '')}/chat/completions`);
  } catch {
    throw new Error(`ai.baseUrl: "${cfg.baseUrl}" is not a URL`);
  }
  const shown = new URL(cfg.baseUrl);
  const endpoint = `${shown.protocol}//${shown.host}${shown.pathname.replace(/\/+$/, '')}`;

  /** One request: its signal (caller's and timeout), the key, and errors made readable. */
  const call = async (messages: ChatMessage[], stream: boolean, opts: CallOptions) => {
    const key = env[cfg.keyEnv] ?? '';
    const signals = [opts.signal, opts.timeout ? AbortSignal.timeout(opts.timeout * 1000) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length ? AbortSignal.any(signals) : undefined;
    let answered = false;
    let started = false;
    const scrub = (text: string) => (key.length >= 4 ? text.split(key).join('[redacted]') : text);
    const fail = (e: unknown): ModelError => {
      if (e instanceof ModelError) return new ModelError(e.kind, scrub(e.message), e.status);
      if (signal?.aborted) {
        if ((signal.reason as Error | undefined)?.name !== 'TimeoutError') return new ModelError('cancelled', 'the request to the model was cancelled');
        const limit = opts.timeout ? ` within ${seconds(opts.timeout)}` : ' in time';
        return new ModelError('timeout', started ? `the model did not finish its answer${limit}` : `the model did not answer${limit}`);
      }
      const what = answered ? `the connection to the model at ${endpoint} broke` : `cannot reach the model at ${endpoint}`;
      return new ModelError('network', scrub(`${what}: ${networkReason(e)}`));
    };
    const markStarted = () => (started = true);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        signal,
        headers: {
          'content-type': 'application/json',
          accept: stream ? 'text/event-stream' : 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        // No response_format: several compatible servers reject or ignore it, so the prompt asks
        // for JSON and the caller parses leniently. max_tokens is the field every server knows.
        body: JSON.stringify({ model: cfg.model, messages, max_tokens: cfg.maxTokens, stream }),
      });
      answered = true;
      if (!res.ok) {
        const text = await res.text();
        throw new ModelError('http', `the model endpoint answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}: ${apiMessage(parseJson(text), text)}`, res.status);
      }
    } catch (e) {
      throw fail(e);
    }
    return { res, fail, markStarted };
  };

  return {
    model: cfg.model,
    endpoint,
    async complete(messages, opts = {}) {
      const { res, fail } = await call(messages, false, opts);
      try {
        return completionText(await res.text());
      } catch (e) {
        throw fail(e);
      }
    },
    async *stream(messages, opts = {}) {
      const { res, fail, markStarted } = await call(messages, true, opts);
      try {
        // A server that ignores `stream` answers one JSON completion: take it whole.
        if (/json/i.test(res.headers.get('content-type') ?? '') || !res.body) {
          yield completionText(await res.text());
          return;
        }
        let finished = false;
        for await (const { event, data } of sseEvents(res.body)) {
          if (data === '[DONE]') return;
          const j = parseJson(data) as { error?: unknown; choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[] } | undefined;
          if (event === 'error' || (j && typeof j === 'object' && j.error)) throw new ModelError('model', `the model failed mid-answer: ${apiMessage(j ?? data, data)}`);
          if (!j || typeof j !== 'object') throw new ModelError('malformed', `a streamed event is not JSON: ${snippet(data)}`);
          const choice = j.choices?.[0];
          if (choice?.finish_reason) finished = true;
          const text = choice?.delta?.content;
          if (typeof text === 'string' && text !== '') {
            markStarted();
            yield text;
          }
        }
        // Some servers end with a finish_reason and close, without [DONE].
        if (!finished) throw new ModelError('malformed', 'the model endpoint closed the stream before its end (no finish_reason, no data: [DONE])');
      } catch (e) {
        throw fail(e);
      }
    },
  };
}
