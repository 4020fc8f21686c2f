// Worker thread: one batch engine over a share of the tasks (see shard.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { AnalyzerOptions } from '../backend/index.js';
import { transportBackend } from '../backend/index.js';
import { serve, type ShardRequest } from './shard.js';

const engine = transportBackend().createBatchEngine(workerData as AnalyzerOptions);
parentPort!.on('message', (req: ShardRequest) => parentPort!.postMessage(serve(engine, req)));
