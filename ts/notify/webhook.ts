// POSTs { version: 1, event } as JSON. With a key the exact body bytes are signed with
// HMAC-SHA256, so a receiver can tell our POSTs from anyone else's. There is no separate
// timestamp header: the body's alert id, state and window time are signed with it, which is
// what a receiver needs to reject a replay.
import { createHmac } from 'node:crypto';
import type { AlertEvent } from '../shared/index.js';
import type { WebhookNotifierConfig } from '../config/index.js';
import { webhookBody } from './message.js';
import { checkPostUrl, postOnce } from '../transport/http-post.js';
import type { Log, Notifier } from './notifier.js';

export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  private readonly key: string;

  constructor(private readonly config: WebhookNotifierConfig, env: NodeJS.ProcessEnv, log: Log) {
    checkPostUrl(config.url);
    this.key = config.secretEnv ? (env[config.secretEnv] ?? '') : '';
    if (config.secretEnv && !this.key) log(`notify: ${config.name}: environment variable ${config.secretEnv} is empty; webhooks go out unsigned`);
  }

  async send(event: AlertEvent, signal: AbortSignal): Promise<void> {
    const body = webhookBody(event);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'netspectra' };
    if (this.key) headers[this.config.signatureHeader] = `sha256=${createHmac('sha256', this.key).update(body).digest('hex')}`;
    // Redirects are not followed (postOnce): the signed body would go elsewhere.
    await postOnce(this.config.url, body, headers, signal);
  }

  close(): void {}
}
