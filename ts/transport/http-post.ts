// One HTTP POST attempt, whether trying again can help, and the retry loop: shared by the alert
// notifiers and the flow export, which each keep their own queue.
import { setTimeout as sleep } from 'node:timers/promises';

/** Counters of a queue delivered with retries (alert notifications, flow records): items,
 * except failedAttempts and retries, which count attempts. */
export interface DeliveryStats {
  /** Items delivered. */
  sent: number;
  failedAttempts: number;
  /** Attempts made after a failed one. */
  retries: number;
  /** Items abandoned after a permanent failure or the last retry. */
  gaveUp: number;
  /** Items never tried to the end: pushed out of a full queue, or pending at close. */
  dropped: number;
  /** Items waiting now. */
  queued: number;
  lastError: string | null;
}

/** A failure a retry cannot fix: a 4xx answer, a rejected login or recipient. */
export class PermanentError extends Error {}

/** 4xx answers a retry may turn around: a timeout on the server's side, rate limiting. */
const RETRYABLE = new Set([408, 429]);

/** Resolves on a 2xx answer. Rejects with PermanentError on an answer a retry would get again
 * (any other status but 5xx, 408 and 429), with an Error saying what failed otherwise. */
export async function postOnce(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    // A redirect is an answer like any other: following it would send the body elsewhere.
    res = await fetch(url, { method: 'POST', headers, body, signal, redirect: 'manual' });
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
  const text = (await res.text()).slice(0, 200).replace(/\s+/g, ' ').trim();
  const message = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
  throw res.status >= 500 || RETRYABLE.has(res.status) ? new Error(message) : new PermanentError(message);
}

/**
 * Aborted by `closing` or when the attempt's time is up. Made by hand rather than with
 * AbortSignal.any: every attempt would stay linked to the long-lived close signal.
 */
export function attemptSignal(closing: AbortSignal, ms: number): { signal: AbortSignal; release: () => void } {
  const attempt = new AbortController();
  const onClose = () => attempt.abort(closing.reason);
  const timer = setTimeout(() => attempt.abort(new DOMException('the attempt timed out', 'TimeoutError')), ms);
  closing.addEventListener('abort', onClose, { once: true });
  return {
    signal: attempt.signal,
    release: () => {
      clearTimeout(timer);
      closing.removeEventListener('abort', onClose);
    },
  };
}

export interface FailedAttempt {
  attempt: number;
  /** One line: the error, or "timed out after N s". */
  error: string;
  permanent: boolean;
  /** No attempt follows. */
  last: boolean;
  /** Before the next attempt. */
  waitMs: number;
}

export interface RetryOptions {
  /** Aborts the attempt in flight and the wait: what was not delivered is dropped. */
  closing: AbortSignal;
  timeoutMs: number;
  retries: number;
  /** The first wait; it doubles every retry. */
  backoffMs: number;
  /** Counts failedAttempts and retries, and keeps lastError. */
  stats: Pick<DeliveryStats, 'failedAttempts' | 'retries' | 'lastError'>;
  onFailure(f: FailedAttempt): void;
}

/** Sends until an attempt succeeds ('sent'), fails for good or runs out of retries ('gaveUp'),
 * or `closing` aborts ('dropped'). A PermanentError is never retried. */
export async function sendWithRetries(send: (signal: AbortSignal) => Promise<void>, o: RetryOptions): Promise<'sent' | 'gaveUp' | 'dropped'> {
  for (let attempt = 1; ; attempt++) {
    const waitMs = o.backoffMs * 2 ** (attempt - 1);
    const { signal, release } = attemptSignal(o.closing, o.timeoutMs);
    try {
      await send(signal);
      return 'sent';
    } catch (e) {
      if (o.closing.aborted) return 'dropped';
      const error = signal.aborted ? `timed out after ${o.timeoutMs / 1000} s` : (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
      o.stats.failedAttempts++;
      o.stats.lastError = error;
      const permanent = e instanceof PermanentError;
      const last = permanent || attempt > o.retries;
      o.onFailure({ attempt, error, permanent, last, waitMs });
      if (last) return 'gaveUp';
    } finally {
      release();
    }
    try {
      await sleep(waitMs, undefined, { signal: o.closing });
    } catch {
      return 'dropped';
    }
    o.stats.retries++;
  }
}

/** A URL fetch can POST to without putting credentials in its error messages. */
export function checkPostUrl(url: string): void {
  if (!URL.canParse(url)) throw new Error('url: not a valid URL');
  const u = new URL(url);
  // fetch refuses them, and its error would print them.
  if (u.username || u.password) throw new Error('url: user or password in the URL is not supported');
}
