// Notifiers against real endpoints on loopback: an HTTP receiver for webhooks (signature,
// retries, permanent failures, a receiver that never answers) and an SMTP server for e-mail
// (plain with a login, STARTTLS and implicit TLS with a self-signed certificate the test makes,
// rejected logins and recipients). No log line may carry a secret.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AlertEvent } from '../shared/index.js';
import { ConfigError, type EmailNotifierConfig, type NotifierConfig, type WebhookNotifierConfig } from '../config/index.js';
import { Dispatcher, emailSubject, escapeHtml, htmlBody, textBody, webhookBody } from './index.js';

const HMAC_KEY = 'hmac-key-7f3a9c1e5b';
const SMTP_PASSWORD = 'smtp-pass-4d2e8b6a0c';
const WRONG_PASSWORD = 'wrong-pass-9e1f3b7d';

function alertEvent(over: Partial<AlertEvent> = {}): AlertEvent {
  return {
    id: 'a1b2c3d4e5f60718',
    rule: 'syn_flood',
    state: 'firing',
    repeat: false,
    severity: 'critical',
    summary: 'dst 10.0.254.53 pps 61.2k > 50k',
    description: 'SYN packets to one host above the flood threshold.',
    task: 'victims',
    metric: 'pps',
    op: '>',
    threshold: 50_000,
    thresholdText: '50k',
    value: 61_200,
    valueText: '61.2k',
    key: { DstIP: '10.0.254.53' },
    keyText: 'dst 10.0.254.53',
    labels: { team: 'netops', probe: '<script>alert(1)</script>' },
    startsAt: '2025-03-01T12:00:10.000Z',
    endsAt: null,
    at: '2025-03-01T12:00:10.000Z',
    windowStart: '2025-03-01T12:00:00.000Z',
    windowEnd: '2025-03-01T12:00:10.000Z',
    source: 'engine-1',
    enrichment: {
      hypothesis: 'A SYN flood from spoofed sources against the DNS server.',
      severityAssessment: 'Critical: the host answers no new connections.',
      nextSteps: ['Enable SYN cookies on 10.0.254.53', 'Ask the upstream to filter'],
      model: 'test-model',
    },
    ...over,
  };
}

const common = { minSeverity: 'info', timeout: 5, retries: 3, backoff: 0.02 } as const;

function webhook(name: string, url: string, over: Partial<WebhookNotifierConfig> = {}): WebhookNotifierConfig {
  return { ...common, type: 'webhook', name, url, secretEnv: '', signatureHeader: 'X-NetSpectra-Signature', ...over };
}

function email(name: string, port: number, over: Partial<EmailNotifierConfig> = {}): EmailNotifierConfig {
  return {
    ...common, type: 'email', name, host: '127.0.0.1', port, tls: 'none', rejectUnauthorized: true, caFile: '',
    user: '', passwordEnv: 'TEST_SMTP_PASSWORD', from: 'netspectra@example.test', to: ['oncall@example.test', 'noc@example.test'], ...over,
  };
}

function logNotifier(name: string, over: Partial<NotifierConfig> = {}): NotifierConfig {
  return { ...common, type: 'log', name, ...over } as NotifierConfig;
}

function stat(d: Dispatcher, name: string) {
  const s = d.stats().find((x) => x.name === name);
  assert.ok(s, `stats of ${name}`);
  return s;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertNoSecrets(lines: string[]): void {
  for (const line of lines) {
    for (const secret of [HMAC_KEY, SMTP_PASSWORD, WRONG_PASSWORD]) assert.ok(!line.includes(secret), `a secret in the log: ${line}`);
    assert.doesNotMatch(line, /authorization/i);
  }
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver; `answer` gives the status of the nth request (from 0), or null: never answer. */
async function receiver(answer: (n: number) => number | null): Promise<{ url: string; requests: Received[]; close: () => Promise<void> }> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer(requests.length);
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (status !== null) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `refused\nwith status ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('message', () => {
  test('the subject, and the resolved one', () => {
    assert.equal(emailSubject(alertEvent()), '[NetSpectra] FIRING critical syn_flood: dst 10.0.254.53 pps 61.2k > 50k');
    assert.equal(emailSubject(alertEvent({ state: 'resolved', summary: 'dst 10.0.254.53 pps 1.2k > 50k' })), '[NetSpectra] RESOLVED critical syn_flood: dst 10.0.254.53 pps 1.2k > 50k');
  });

  test('the webhook body is the event under version 1', () => {
    const e = alertEvent();
    assert.deepEqual(JSON.parse(webhookBody(e)), { version: 1, event: e });
  });

  test('without enrichment the bodies say why; every value is escaped in HTML', () => {
    const e = alertEvent({ enrichment: undefined, enrichmentNote: 'the model timed out after 5 s', description: 'a & b < c' });
    assert.match(textBody(e), /AI analysis: none \(the model timed out after 5 s\)/);
    const html = htmlBody(e);
    assert.match(html, /None: the model timed out after 5 s/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /a &amp; b &lt; c/);
    assert.doesNotMatch(html, /<script/);
  });
});

describe('webhook notifier', { timeout: 30_000 }, () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const env = { HOOK_KEY: HMAC_KEY };
  after(() => assertNoSecrets(lines));

  test('POSTs the event as JSON, signed with the key from the environment', async () => {
    const r = await receiver(() => 200);
    const d = new Dispatcher([webhook('signed', r.url, { secretEnv: 'HOOK_KEY' })], { log, queue: 10, env });
    try {
      const e = alertEvent();
      d.dispatch(e, []);
      assert.equal(await d.drain(5000), true);
      assert.equal(r.requests.length, 1);
      const { headers, body } = r.requests[0];
      assert.deepEqual(JSON.parse(body), { version: 1, event: e });
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['user-agent'], 'netspectra');
      const expected = `sha256=${createHmac('sha256', HMAC_KEY).update(body).digest('hex')}`;
      assert.equal(headers['x-netspectra-signature'], expected);
      assert.deepEqual(stat(d, 'signed'), { name: 'signed', type: 'webhook', sent: 1, failedAttempts: 0, retries: 0, gaveUp: 0, dropped: 0, queued: 0, lastError: null });
    } finally {
      await d.close();
      await r.close();
    }
  });

  test('no signature without secretEnv, nor when its variable is empty (which is logged)', async () => {
    const r = await receiver(() => 204);
    const d = new Dispatcher([webhook('plain', r.url), webhook('unset', r.url, { secretEnv: 'HOOK_KEY_MISSING' })], { log, queue: 10, env });
    try {
      assert.ok(lines.some((l) => l === 'notify: unset: environment variable HOOK_KEY_MISSING is empty; webhooks go out unsigned'));
      d.dispatch(alertEvent(), []);
      assert.equal(await d.drain(5000), true);
      assert.equal(r.requests.length, 2);
      for (const req of r.requests) assert.equal(req.headers['x-netspectra-signature'], undefined);
      assert.equal(stat(d, 'plain').sent, 1);
    } finally {
      await d.close();
      await r.close();
    }
  });

  test('503 twice, then 200: delivered once after two retries, each failure logged', async () => {
    const r = await receiver((n) => (n < 2 ? 503 : 200));
    const d = new Dispatcher([webhook('flaky', r.url)], { log, queue: 10, env });
    try {
      d.dispatch(alertEvent(), []);
      assert.equal(await d.drain(5000), true);
      assert.equal(r.requests.length, 3);
      const s = stat(d, 'flaky');
      assert.equal(s.sent, 1);
      assert.equal(s.retries, 2);
      assert.equal(s.failedAttempts, 2);
      assert.equal(s.gaveUp, 0);
      assert.equal(s.lastError, 'HTTP 503: refused with status 503');
      assert.ok(lines.includes('notify: flaky: attempt 1 of 4 failed for syn_flood firing a1b2c3d4e5f60718: HTTP 503: refused with status 503; retrying in 0.02 s'));
      assert.ok(lines.includes('notify: flaky: attempt 2 of 4 failed for syn_flood firing a1b2c3d4e5f60718: HTTP 503: refused with status 503; retrying in 0.04 s'));
    } finally {
      await d.close();
      await r.close();
    }
  });

  test('400 is permanent: no retry', async () => {
    const r = await receiver(() => 400);
    const d = new Dispatcher([webhook('bad', r.url)], { log, queue: 10, env });
    try {
      d.dispatch(alertEvent(), []);
      assert.equal(await d.drain(5000), true);
      assert.equal(r.requests.length, 1);
      assert.deepEqual({ ...stat(d, 'bad'), lastError: null }, { name: 'bad', type: 'webhook', sent: 0, failedAttempts: 1, retries: 0, gaveUp: 1, dropped: 0, queued: 0, lastError: null });
      assert.ok(lines.some((l) => l.startsWith('notify: bad: attempt 1 of 4 failed') && l.endsWith('HTTP 400: refused with status 400; permanent failure, giving up')));
    } finally {
      await d.close();
      await r.close();
    }
  });

  test('a connection refused is retried, then given up', async () => {
    const r = await receiver(() => 200);
    await r.close();
    const d = new Dispatcher([webhook('gone', r.url, { retries: 1 })], { log, queue: 10, env });
    try {
      d.dispatch(alertEvent(), []);
      assert.equal(await d.drain(5000), true);
      const s = stat(d, 'gone');
      assert.deepEqual([s.failedAttempts, s.retries, s.gaveUp], [2, 1, 1]);
      assert.match(s.lastError ?? '', /ECONNREFUSED/);
    } finally {
      await d.close();
    }
  });

  test('a receiver that never answers: dispatch returns at once, the log notifier is not held up, the attempt times out', async () => {
    const r = await receiver(() => null);
    const logged: string[] = [];
    const d = new Dispatcher([webhook('stuck', r.url, { timeout: 0.3, retries: 0 }), logNotifier('log')], { log: (l) => (lines.push(l), logged.push(l)), queue: 10, env });
    try {
      const start = performance.now();
      d.dispatch(alertEvent(), []);
      assert.ok(performance.now() - start < 50, 'dispatch() does not wait');
      await until(() => r.requests.length === 1);
      assert.equal(stat(d, 'log').sent, 1, 'the log notifier delivered while the webhook hangs');
      assert.ok(logged.some((l) => l.startsWith('alert firing critical syn_flood: dst 10.0.254.53 pps 61.2k > 50k (id a1b2c3d4e5f60718')));
      assert.equal(stat(d, 'stuck').sent + stat(d, 'stuck').gaveUp, 0, 'the webhook is still in flight');
      assert.equal(await d.drain(5000), true);
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 290, `gave up after the timeout, not before (${elapsed} ms)`);
      assert.equal(stat(d, 'stuck').gaveUp, 1);
      assert.equal(stat(d, 'stuck').lastError, 'timed out after 0.3 s');
    } finally {
      await d.close();
      await r.close();
    }
  });

  test('a full queue drops the oldest, counts and logs it; close counts what was pending', async () => {
    const r = await receiver(() => null);
    const d = new Dispatcher([webhook('slow', r.url, { timeout: 30 })], { log, queue: 2, env });
    try {
      for (let i = 0; i < 5; i++) d.dispatch(alertEvent({ id: `event-${i}` }), []);
      // One in flight, two waiting, the two oldest waiting ones pushed out.
      assert.equal(stat(d, 'slow').dropped, 2);
      assert.equal(stat(d, 'slow').queued, 2);
      assert.equal(lines.filter((l) => l.startsWith('notify: slow: queue full')).length, 1, 'the first drop is logged, the next ones are not');
      assert.equal(await d.drain(100), false, 'not drained while the webhook hangs');
    } finally {
      await d.close();
      await r.close();
    }
    assert.equal(stat(d, 'slow').dropped, 5, 'the one in flight and the two waiting too');
    assert.equal(stat(d, 'slow').queued, 0);
    assert.ok(lines.includes('notify: slow: closed with 3 notification(s) undelivered'));
  });
});

describe('dispatcher routing', () => {
  test('severity and rule filters; resolved goes where firing went; unknown names logged once', async () => {
    const lines: string[] = [];
    const d = new Dispatcher([logNotifier('all'), logNotifier('pager', { minSeverity: 'critical' })], { log: (l) => lines.push(l), queue: 10 });
    const sentAfter = async (event: AlertEvent, names: string[]) => {
      d.dispatch(event, names);
      assert.equal(await d.drain(1000), true);
      return d.stats().map((s) => s.sent);
    };
    assert.deepEqual(await sentAfter(alertEvent({ severity: 'warning' }), []), [1, 0]);
    assert.deepEqual(await sentAfter(alertEvent(), []), [2, 1]);
    assert.deepEqual(await sentAfter(alertEvent({ state: 'resolved' }), []), [3, 2]);
    assert.deepEqual(await sentAfter(alertEvent({ severity: 'warning', state: 'resolved' }), []), [4, 2]);
    assert.deepEqual(await sentAfter(alertEvent(), ['pager', 'nope']), [4, 3]);
    assert.deepEqual(await sentAfter(alertEvent({ state: 'resolved' }), ['pager', 'nope']), [4, 4]);
    assert.deepEqual(lines.filter((l) => l.includes('"nope"')), ['notify: rule syn_flood names notifier "nope", which is not configured; ignored']);
    await d.close();
  });

  test('with no notifier configured, alerts go to the log', async () => {
    const lines: string[] = [];
    const d = new Dispatcher([], { log: (l) => lines.push(l), queue: 10 });
    d.dispatch(alertEvent({ severity: 'info', state: 'resolved' }), []);
    assert.equal(await d.drain(1000), true);
    assert.deepEqual(d.stats().map((s) => [s.name, s.type, s.sent]), [['log', 'log', 1]]);
    assert.match(lines[0], /^alert resolved info syn_flood: /);
    await d.close();
  });
});

/** A raw RFC 5322 message: unfolded headers and the decoded parts of a multipart body. */
function parseMail(raw: string): { headers: Map<string, string>; parts: Map<string, string> } {
  const split = (text: string) => {
    const at = text.indexOf('\r\n\r\n');
    const headers = new Map<string, string>();
    for (const line of text.slice(0, at).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    return { headers, body: text.slice(at + 4) };
  };
  const decode = (body: string, encoding = '7bit') => {
    if (encoding === 'base64') return Buffer.from(body, 'base64').toString('utf8');
    if (encoding !== 'quoted-printable') return body;
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  };
  const { headers, body } = split(raw);
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  assert.ok(boundary, 'a multipart message');
  const parts = new Map<string, string>();
  // The CRLF before a delimiter belongs to the delimiter (RFC 2046).
  for (const chunk of `\r\n${body}`.split(`\r\n--${boundary}`).slice(1, -1)) {
    const part = split(chunk.replace(/^\r\n/, ''));
    parts.set(part.headers.get('content-type')!.split(';')[0], decode(part.body, part.headers.get('content-transfer-encoding')));
  }
  return { headers, parts };
}

interface Mail {
  raw: string;
  secure: boolean;
  user: string | null;
  to: string[];
}

async function smtpServer(options: SMTPServerOptions): Promise<{ port: number; mails: Mail[]; logins: { username?: string; password?: string | null }[]; close: () => Promise<void> }> {
  const mails: Mail[] = [];
  const logins: { username?: string; password?: string | null }[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    onAuth(auth, _session, callback) {
      logins.push({ username: auth.username, password: auth.password });
      if (auth.username === 'alerts' && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Authentication credentials invalid'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ raw: Buffer.concat(chunks).toString('utf8'), secure: session.secure, user: session.user ?? null, to: session.envelope.rcptTo.map((a) => a.address) });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.server.address() as { port: number };
  return { port, mails, logins, close: () => new Promise((r) => server.close(() => r())) };
}

describe('e-mail notifier', { timeout: 60_000 }, () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const env = { TEST_SMTP_PASSWORD: SMTP_PASSWORD, WRONG_SMTP_PASSWORD: WRONG_PASSWORD };
  let dir = '';
  let key = '';
  let cert = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-notify-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assertNoSecrets(lines);
  });

  /** Sends one alert through a single e-mail notifier; returns its stats. */
  async function sendOne(config: EmailNotifierConfig, event = alertEvent()) {
    const d = new Dispatcher([config], { log, queue: 10, env });
    try {
      d.dispatch(event, []);
      assert.equal(await d.drain(15_000), true);
      return stat(d, config.name);
    } finally {
      await d.close();
    }
  }

  function assertAlertMail(mail: Mail, e: AlertEvent): void {
    const { headers, parts } = parseMail(mail.raw);
    assert.equal(headers.get('subject'), emailSubject(e));
    assert.equal(headers.get('from'), 'netspectra@example.test');
    assert.equal(headers.get('to'), 'oncall@example.test, noc@example.test');
    assert.deepEqual(mail.to, ['oncall@example.test', 'noc@example.test']);
    assert.match(headers.get('content-type') ?? '', /^multipart\/alternative/);
    // SMTP lines end in CRLF.
    const text = parts.get('text/plain')?.replace(/\r\n/g, '\n');
    const html = parts.get('text/html')?.replace(/\r\n/g, '\n');
    assert.ok(text && html, 'a text and an HTML part');
    for (const s of [e.summary, '10.0.254.53', '61.2k', e.enrichment!.hypothesis, 'Enable SYN cookies']) {
      assert.ok(text.includes(s), `${s} in the text part`);
      assert.ok(html.includes(escapeHtml(s)), `${s} in the HTML part`);
    }
    assert.equal(text, textBody(e));
    assert.equal(html, htmlBody(e));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;') && !html.includes('<script'), 'the label is escaped');
  }

  test('plain SMTP with a login: the password comes from the environment', async () => {
    const smtp = await smtpServer({ allowInsecureAuth: true, disabledCommands: ['STARTTLS'] });
    try {
      const e = alertEvent();
      const s = await sendOne(email('plain', smtp.port, { user: 'alerts' }), e);
      assert.equal(s.sent, 1, s.lastError ?? '');
      assert.deepEqual(smtp.logins, [{ username: 'alerts', password: SMTP_PASSWORD }]);
      assert.equal(smtp.mails.length, 1);
      assert.equal(smtp.mails[0].secure, false);
      assert.equal(smtp.mails[0].user, 'alerts');
      assertAlertMail(smtp.mails[0], e);
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS, the self-signed certificate trusted through caFile', async () => {
    const smtp = await smtpServer({ key, cert });
    try {
      const e = alertEvent({ enrichment: undefined, enrichmentNote: 'no AI endpoint configured' });
      const s = await sendOne(email('starttls', smtp.port, { tls: 'starttls', caFile: join(dir, 'cert.pem') }), e);
      assert.equal(s.sent, 1, s.lastError ?? '');
      assert.equal(smtp.mails[0].secure, true);
      const { parts } = parseMail(smtp.mails[0].raw);
      assert.match(parts.get('text/plain')!, /AI analysis: none \(no AI endpoint configured\)/);
      assert.match(parts.get('text/html')!, /None: no AI endpoint configured/);
    } finally {
      await smtp.close();
    }
  });

  test('implicit TLS', async () => {
    const smtp = await smtpServer({ secure: true, key, cert });
    try {
      const e = alertEvent({ state: 'resolved', endsAt: '2025-03-01T12:05:00.000Z' });
      const s = await sendOne(email('implicit', smtp.port, { tls: 'implicit', caFile: join(dir, 'cert.pem') }), e);
      assert.equal(s.sent, 1, s.lastError ?? '');
      assert.equal(smtp.mails[0].secure, true);
      assertAlertMail(smtp.mails[0], e);
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS without caFile: the certificate is refused', async () => {
    const smtp = await smtpServer({ key, cert });
    try {
      const s = await sendOne(email('untrusted', smtp.port, { tls: 'starttls', retries: 0 }));
      assert.deepEqual([s.sent, s.gaveUp], [0, 1]);
      assert.match(s.lastError ?? '', /self-signed certificate/);
      assert.equal(smtp.mails.length, 0);
    } finally {
      await smtp.close();
    }
  });

  test('a wrong password: 535, given up without a retry, the password never logged', async () => {
    const smtp = await smtpServer({ allowInsecureAuth: true, disabledCommands: ['STARTTLS'] });
    try {
      const s = await sendOne(email('wrongpass', smtp.port, { user: 'alerts', passwordEnv: 'WRONG_SMTP_PASSWORD' }), alertEvent());
      assert.deepEqual([s.sent, s.failedAttempts, s.retries, s.gaveUp], [0, 1, 0, 1]);
      assert.match(s.lastError ?? '', /535/);
      assert.equal(smtp.logins.length, 1);
      assert.ok(lines.some((l) => l.startsWith('notify: wrongpass: attempt 1 of 4 failed') && l.includes('535') && l.endsWith('permanent failure, giving up')));
    } finally {
      await smtp.close();
    }
  });

  test('recipients refused with 550: permanent', async () => {
    const smtp = await smtpServer({
      disabledCommands: ['STARTTLS'],
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      },
    });
    try {
      const s = await sendOne(email('norcpt', smtp.port));
      assert.deepEqual([s.sent, s.failedAttempts, s.gaveUp], [0, 1, 1]);
      assert.match(s.lastError ?? '', /550/);
    } finally {
      await smtp.close();
    }
  });

  test('one recipient refused: the others get it, the refusal is logged', async () => {
    const smtp = await smtpServer({
      disabledCommands: ['STARTTLS'],
      onRcptTo(address, _session, callback) {
        callback(address.address === 'noc@example.test' ? Object.assign(new Error('No such user'), { responseCode: 550 }) : null);
      },
    });
    try {
      const s = await sendOne(email('partial', smtp.port));
      assert.deepEqual([s.sent, s.failedAttempts], [1, 0]);
      assert.deepEqual(smtp.mails[0].to, ['oncall@example.test']);
      assert.ok(lines.includes('notify: partial: the server refused recipient(s) noc@example.test'));
    } finally {
      await smtp.close();
    }
  });

  test('a missing password and an unreadable caFile stop the start, both reported', () => {
    assert.throws(
      () => new Dispatcher([email('nopass', 25, { user: 'alerts', passwordEnv: 'UNSET_PASSWORD' }), email('noca', 25, { tls: 'starttls', caFile: join(dir, 'missing.pem') })], { log, queue: 10, env }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(e.problems, [
          'alerts.notifiers[0] (nopass): user is set but the environment variable UNSET_PASSWORD (passwordEnv) holding the password is empty',
          `alerts.notifiers[1] (noca): caFile: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
        ]);
        return true;
      },
    );
  });
});
