// Enrichment of an alert: the model's hypothesis, its view of the severity, and next steps.
import type { AlertEvent, Enrichment } from '../shared/index.js';
import type { AiConfig } from '../config/index.js';
import { createChatModel, ModelError, type ChatMessage, type ChatModel } from './openai.js';

const SYSTEM = `You are a network security analyst assistant for NetSpectra, a network traffic monitor.
You read one alert raised from flow statistics (packets, bytes and distinct peers per time window;
no payloads) and explain it to the engineer on call. Be concrete and brief. Weigh benign causes
(backups, updates, monitoring, a CDN, an authorised scan) against attacks, and say which the
numbers favour.
Answer with one JSON object and nothing else:
{"hypothesis": "what most likely happens, 1-3 sentences",
 "severityAssessment": "whether the configured severity fits, and why, 1-2 sentences",
 "nextSteps": ["2 to 5 concrete checks or actions"]}`;

/** The alert as the model needs it: no ids, no enrichment, no empty fields. */
function alertJson(e: AlertEvent): string {
  const { id: _id, enrichment: _e, enrichmentNote: _n, threshold: _t, value: _v, ...rest } = e;
  const kept = Object.entries(rest).filter(([, v]) => v !== '' && v !== null && v !== false && !(typeof v === 'object' && Object.keys(v).length === 0));
  return JSON.stringify(Object.fromEntries(kept));
}

export function enrichmentMessages(event: AlertEvent): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: `Alert:\n${alertJson(event)}` },
  ];
}

const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : v === undefined || v === null ? '' : JSON.stringify(v));

/** Reads the model's answer: a JSON object, bare, in a ``` fence or amid prose; else the whole
 * text is the hypothesis (small models often ignore the format). */
export function parseEnrichment(answer: string, model: string): Enrichment {
  // Reasoning models may think aloud first.
  const body = answer.replace(/^\s*<think>[\s\S]*?<\/think>/i, '').trim();
  if (!body) throw new ModelError('model', 'the model gave an empty answer');
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(body)?.[1];
  const braces = body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1);
  for (const candidate of [fenced, body, braces]) {
    if (!candidate) continue;
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(candidate) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) continue;
    const steps = j.nextSteps ?? j.next_steps;
    const e: Enrichment = {
      hypothesis: text(j.hypothesis),
      severityAssessment: text(j.severityAssessment ?? j.severity_assessment),
      nextSteps: (Array.isArray(steps) ? steps : steps === undefined ? [] : [steps]).map(text).filter(Boolean),
      model,
    };
    if (e.hypothesis || e.severityAssessment || e.nextSteps.length) return e;
  }
  return { hypothesis: body, severityAssessment: '', nextSteps: [], model };
}

/** One alert read by `model`; rejects with the model's error (timeout included, naming it). */
export async function analyzeAlert(model: ChatModel, event: AlertEvent, signal: AbortSignal, timeout: number): Promise<Enrichment> {
  return parseEnrichment(await model.complete(enrichmentMessages(event), { signal, timeout }), model.model);
}

export type AlertAnalyzer = (event: AlertEvent, signal: AbortSignal) => Promise<Enrichment>;

/** The enrichment of firing alerts, or null when no model is configured or ai.enrich is off. */
export function createAlertAnalyzer(ai: AiConfig, env: NodeJS.ProcessEnv = process.env): AlertAnalyzer | null {
  if (!ai.baseUrl || !ai.model || !ai.enrich) return null;
  const model = createChatModel(ai, env);
  return (event, signal) => analyzeAlert(model, event, signal, ai.enrichTimeout);
}
