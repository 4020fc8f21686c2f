// Types and tables every folder may use: the bottom of the layering (it imports nothing of the
// project). The alert notification every sink receives, and the names of protocol numbers.
export { SEVERITIES, severityRank, type AlertEvent, type Enrichment, type Severity } from './alert-event.js';
export * from './names.js';
