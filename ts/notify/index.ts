// Alert notifications: a dispatcher that never blocks its caller, in front of webhook, e-mail
// and log notifiers.
//   dispatcher  per-notifier queues, retries with backoff, counters   message  subject, bodies
//   webhook     signed JSON POSTs    email  SMTP (nodemailer)          log      one line per alert
export { Dispatcher, type DispatcherOptions, type NotifierStats } from './dispatcher.js';
export { emailSubject, escapeHtml, htmlBody, logLine, textBody, webhookBody } from './message.js';
