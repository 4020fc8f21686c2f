// The notifier that needs nothing configured: it is the default, so alerts are never silent.
import type { AlertEvent } from '../shared/index.js';
import { logLine } from './message.js';
import type { Log, Notifier } from './notifier.js';

export class LogNotifier implements Notifier {
  readonly type = 'log';

  constructor(private readonly log: Log) {}

  async send(event: AlertEvent): Promise<void> {
    this.log(logLine(event));
  }

  close(): void {}
}
