// Flow records: the core's finished flows (types.ts) and where they are exported (export.ts:
// the store, NATS, an HTTP receiver).
export { createFlowExport, FlowExport, jsonArrays, NATS_MAX_MESSAGE, type FlowExportDeps, type FlowSinkStats } from './export.js';
export type { FlowPage, FlowRecordJson } from './types.js';
