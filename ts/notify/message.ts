// How an alert reads in each channel. Text, HTML and the log line are rendered from the same
// field list so they never disagree; every value is escaped in HTML because labels, keys and
// the model's text come from configuration, traffic and an LLM, none of them trusted.
import type { AlertEvent, Severity } from '../shared/index.js';

/** The webhook body; `version` changes only when a receiver would have to change. */
export function webhookBody(e: AlertEvent): string {
  return JSON.stringify({ version: 1, event: e });
}

function stateWord(e: AlertEvent): string {
  return e.state === 'resolved' ? 'RESOLVED' : e.repeat ? 'FIRING (repeat)' : 'FIRING';
}

/** `[NetSpectra] FIRING critical syn_flood: dst 10.0.254.53 pps 61.2k > 50k` */
export function emailSubject(e: AlertEvent): string {
  return `[NetSpectra] ${stateWord(e)} ${e.severity} ${e.rule}: ${e.summary}`.replace(/\s+/g, ' ');
}

/** One line for the process log. */
export function logLine(e: AlertEvent): string {
  return `alert ${stateWord(e).toLowerCase()} ${e.severity} ${e.rule}: ${e.summary} (id ${e.id}, window ${e.windowStart} - ${e.windowEnd})`.replace(/\s+/g, ' ');
}

/** Label and value rows shared by the text and HTML bodies. */
function facts(e: AlertEvent): [string, string][] {
  const rows: [string, string][] = [
    ['Value', e.valueText],
    ['Threshold', `${e.op} ${e.thresholdText}`],
  ];
  const key = Object.entries(e.key);
  if (key.length === 0) rows.push(['Key', 'the whole window']);
  for (const [field, value] of key) rows.push([field, value]);
  rows.push(
    ['Task', e.task ? `${e.task} (${e.metric})` : `window (${e.metric})`],
    ['Window', `${e.windowStart} - ${e.windowEnd}`],
    ['Firing since', e.startsAt],
  );
  if (e.endsAt) rows.push(['Resolved at', e.endsAt]);
  rows.push(['Source', e.source], ['Alert id', e.id]);
  return rows;
}

export function textBody(e: AlertEvent): string {
  const width = Math.max(...facts(e).map(([label]) => label.length)) + 2;
  const lines = [`${stateWord(e)} ${e.severity}: ${e.rule}`, e.summary, ''];
  for (const [label, value] of facts(e)) lines.push(`${`${label}:`.padEnd(width)}${value}`);
  const labels = Object.entries(e.labels);
  if (labels.length) lines.push('', 'Labels:', ...labels.map(([k, v]) => `  ${k}=${v}`));
  if (e.description) lines.push('', e.description);
  if (e.enrichment) {
    const ai = e.enrichment;
    lines.push('', `AI analysis (${ai.model}):`, `Hypothesis: ${ai.hypothesis}`, `Severity assessment: ${ai.severityAssessment}`);
    if (ai.nextSteps.length) lines.push('Next steps:', ...ai.nextSteps.map((s, i) => `  ${i + 1}. ${s}`));
  } else if (e.enrichmentNote) {
    lines.push('', `AI analysis: none (${e.enrichmentNote})`);
  }
  return lines.join('\n') + '\n';
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const BANNER: Record<Severity, string> = { info: '#1565c0', warning: '#b26a00', critical: '#b00020' };
const RESOLVED = '#2e7d32';

const TH = 'text-align:left;vertical-align:top;padding:4px 16px 4px 0;color:#555;font-weight:normal;white-space:nowrap';
const TD = 'padding:4px 0;vertical-align:top';
const H3 = 'font-size:15px;margin:20px 0 6px';

function table(rows: [string, string][]): string {
  const trs = rows.map(([k, v]) => `<tr><th style="${TH}">${escapeHtml(k)}</th><td style="${TD}">${escapeHtml(v)}</td></tr>`);
  return `<table style="border-collapse:collapse;font-size:14px">${trs.join('')}</table>`;
}

export function htmlBody(e: AlertEvent): string {
  const color = e.state === 'resolved' ? RESOLVED : BANNER[e.severity];
  const parts = [
    `<div style="background:${color};color:#fff;padding:12px 16px;border-radius:4px;font-size:18px;font-weight:bold">${escapeHtml(`${stateWord(e)} ${e.severity.toUpperCase()} - ${e.rule}`)}</div>`,
    `<p style="font-size:16px;margin:16px 0">${escapeHtml(e.summary)}</p>`,
    table(facts(e)),
  ];
  const labels = Object.entries(e.labels);
  if (labels.length) parts.push(`<h3 style="${H3}">Labels</h3>`, table(labels));
  if (e.description) parts.push(`<h3 style="${H3}">Description</h3>`, `<p style="white-space:pre-wrap;margin:0">${escapeHtml(e.description)}</p>`);
  if (e.enrichment) {
    const ai = e.enrichment;
    parts.push(
      `<h3 style="${H3}">AI analysis <span style="font-weight:normal;color:#777">(${escapeHtml(ai.model)})</span></h3>`,
      table([['Hypothesis', ai.hypothesis], ['Severity assessment', ai.severityAssessment]]),
    );
    if (ai.nextSteps.length) parts.push(`<p style="margin:8px 0 4px;color:#555">Next steps</p><ol style="margin:0;padding-left:20px">${ai.nextSteps.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ol>`);
  } else if (e.enrichmentNote) {
    parts.push(`<h3 style="${H3}">AI analysis</h3>`, `<p style="color:#777;margin:0">None: ${escapeHtml(e.enrichmentNote)}</p>`);
  }
  return `<!doctype html><html><body style="font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;margin:0;padding:16px">${parts.join('\n')}</body></html>\n`;
}
