// What the dispatcher needs from a notifier: one delivery attempt per call, and a way to say
// that trying again cannot help (so a rejected login is not hammered `retries` more times).
import type { AlertEvent } from '../shared/index.js';
import type { NotifierConfig } from '../config/index.js';

export type Log = (line: string) => void;

export interface Notifier {
  readonly type: NotifierConfig['type'];
  /** One attempt; the signal aborts it (timeout or close). Rejects with PermanentError when a
   * retry would get the same answer. */
  send(event: AlertEvent, signal: AbortSignal): Promise<void>;
  /** Releases connections; no send follows. */
  close(): void;
}

export { PermanentError } from '../transport/http-post.js';

/** An error text fit for one log line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
