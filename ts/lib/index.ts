// The library entry point (`import { analyzeFiles } from 'netspectra'`): what the command line
// is built from, for programs that analyse captures themselves.
export { loadConfig, defaultConfig, ConfigError, type NetspectraConfig, type LoadOptions } from '../config/index.js';
export { loadBackend, createTrafficSource, openLiveCapture } from '../backend/index.js';
export type * from '../backend/types.js';
export { analyzeFiles, type AnalyzeOptions, type AnalyzeResult, type FileOutcome } from '../analyze/analyze-files.js';
export type { AnalysisReport } from '../report/types.js';
