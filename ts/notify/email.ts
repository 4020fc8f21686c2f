// E-mail over SMTP through one nodemailer transport per notifier. The password and the CA file
// are read at start, so a missing secret stops the start instead of failing the first alert.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import nodemailer, { type NodemailerError, type Transporter } from 'nodemailer';
import type { AlertEvent } from '../shared/index.js';
import type { EmailNotifierConfig } from '../config/index.js';
import { emailSubject, htmlBody, textBody } from './message.js';
import { oneLine, PermanentError, type Log, type Notifier } from './notifier.js';

export class EmailNotifier implements Notifier {
  readonly type = 'email';
  private readonly transport: Transporter;
  private readonly password: string;

  constructor(private readonly config: EmailNotifierConfig, env: NodeJS.ProcessEnv, private readonly log: Log) {
    this.password = config.user ? (env[config.passwordEnv] ?? '') : '';
    if (config.user && !this.password) throw new Error(`user is set but the environment variable ${config.passwordEnv} (passwordEnv) holding the password is empty`);
    let ca: string | undefined;
    if (config.caFile) {
      try {
        ca = readFileSync(config.caFile, 'utf8');
      } catch (e) {
        throw new Error(`caFile: cannot read ${config.caFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    const ms = config.timeout * 1000;
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.tls === 'implicit',
      requireTLS: config.tls === 'starttls',
      ignoreTLS: config.tls === 'none',
      auth: config.user ? { user: config.user, pass: this.password } : undefined,
      // A CA given to TLS replaces the system ones; the file adds to them.
      tls: { rejectUnauthorized: config.rejectUnauthorized, ca: ca ? [...rootCertificates, ca] : undefined },
      connectionTimeout: ms,
      greetingTimeout: ms,
      socketTimeout: ms,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(event: AlertEvent, signal: AbortSignal): Promise<void> {
    const { from, to } = this.config;
    let rejected: string[];
    try {
      const info = await this.transport.sendMail({ from, to, subject: emailSubject(event), text: textBody(event), html: htmlBody(event), signal });
      rejected = info.rejected ?? [];
    } catch (e) {
      if (signal.aborted) throw e;
      const err = e as NodemailerError;
      // A server may echo what it was sent.
      const message = oneLine(this.password ? err.message.replaceAll(this.password, '***') : err.message);
      throw err.permanent ? new PermanentError(message) : new Error(message);
    }
    // The others got it: not a failure to retry, but someone is missing the alert.
    if (rejected.length) this.log(`notify: ${this.config.name}: the server refused recipient(s) ${rejected.join(', ')}`);
  }

  close(): void {
    this.transport.close();
  }
}
