// Reading a stream in order, through reconnects and server restarts: an ordered consumer from a
// sequence, made again after the last message handled whenever it fails (a restarted server,
// a consumer the server forgot). The cluster's readers all read this way.
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';

export interface Follower {
  /** Sequence of the last message handled. */
  lastSeq(): number;
  /** Messages on the subject after the last one handled. */
  pending(): number;
  /** When the current consumer started reading (ms); 0 while it is being made. */
  readingSince(): number;
  stop(): Promise<void>;
}

/** Hands each message of `stream` on `subject` from `fromSeq` (1: the beginning) to `handle`,
 * one at a time, in order. */
export function follow(
  js: JetStreamClient, stream: string, subject: string, fromSeq: number,
  handle: (m: JsMsg) => Promise<void>, log: (line: string) => void, what: string,
): Follower {
  let next = Math.max(1, fromSeq);
  let pending = 0;
  let stopped = false;
  let close: (() => Promise<void>) | null = null;
  let failing = false;
  let since = 0;
  const loop = (async () => {
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(stream, {
          filter_subjects: subject,
          ...(next > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next } : { deliver_policy: DeliverPolicy.All }),
        });
        const messages = await consumer.consume({ max_messages: 256 });
        close = async () => void (await messages.close());
        if (stopped) {
          await close();
          break;
        }
        if (failing) log(`${what}: reading ${stream} again from message ${next}`);
        failing = false;
        since = Date.now();
        for await (const m of messages) {
          if (stopped) break;
          await handle(m);
          next = m.seq + 1;
          pending = m.info.pending;
        }
      } catch (e) {
        since = 0;
        if (!failing && !stopped) log(`${what}: reading ${stream} failed: ${(e as Error).message}; trying again`);
        failing = true;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    lastSeq: () => next - 1,
    pending: () => pending,
    readingSince: () => since,
    async stop() {
      stopped = true;
      await close?.().catch(() => {});
      await loop;
    },
  };
}
