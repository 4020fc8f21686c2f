// The API's bearer tokens: `api.tokens`, comma separated (the server checks them, clients send
// the first).
import type { NetspectraConfig } from '../config/index.js';

export function apiTokens(cfg: NetspectraConfig): string[] {
  return cfg.api.tokens.split(',').map((t) => t.trim()).filter(Boolean);
}
