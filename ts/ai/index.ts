// The AI concern: an OpenAI-compatible chat client, enrichment of alerts, and the AiService.
export { createAlertAnalyzer, parseEnrichment, type AlertAnalyzer } from './enrich.js';
export { createChatModel, ModelError, type ChatMessage, type ChatModel, type ModelConfig, type ModelErrorKind } from './openai.js';
export { createAiApp, createAiService, alertFromProto, type AiAppOptions, type AiServiceOptions } from './service.js';
export { createQueryClient } from './grounding.js';
