// POSTs { version: 1, event } as JSON. With a key the exact body bytes are signed with
// HMAC-SHA256, so a receiver can tell our POSTs from anyone else's. There is no separate
// timestamp header: the body's alert id, state and window time are signed with it, which is
// what a receiver needs to reject a replay.
import { createHmac } from 'node:crypto';
import type { AlertEvent } from '../alert/types.js';
import type { WebhookNotifierConfig } from '../config/index.js';
import { webhookBody } from './message.js';
import { oneLine, PermanentError, type Log, type Notifier } from './notifier.js';

/** 4xx answers a retry may turn around: a timeout on the server's side, rate limiting. */
const RETRYABLE = new Set([408, 429]);

export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  private readonly key: string;

  constructor(private readonly config: WebhookNotifierConfig, env: NodeJS.ProcessEnv, log: Log) {
    if (!URL.canParse(config.url)) throw new Error('url: not a valid URL');
    const url = new URL(config.url);
    // fetch refuses them, and its error would print them.
    if (url.username || url.password) throw new Error('url: user or password in the URL is not supported');
    this.key = config.secretEnv ? (env[config.secretEnv] ?? '') : '';
    if (config.secretEnv && !this.key) log(`notify: ${config.name}: environment variable ${config.secretEnv} is empty; webhooks go out unsigned`);
  }

  async send(event: AlertEvent, signal: AbortSignal): Promise<void> {
    const body = webhookBody(event);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'netspectra' };
    if (this.key) headers[this.config.signatureHeader] = `sha256=${createHmac('sha256', this.key).update(body).digest('hex')}`;
    let res: Response;
    try {
      // A redirect is an answer like any other: following it would send the signed body elsewhere.
      res = await fetch(this.config.url, { method: 'POST', headers, body, signal, redirect: 'manual' });
    } catch (e) {
      if (signal.aborted) throw e;
      // fetch's own message is "fetch failed"; the cause says what failed.
      const cause = (e as Error).cause;
      throw new Error(cause instanceof Error ? cause.message : (e as Error).message);
    }
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    const text = oneLine((await res.text()).slice(0, 200));
    const message = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    throw res.status >= 500 || RETRYABLE.has(res.status) ? new Error(message) : new PermanentError(message);
  }

  close(): void {}
}
