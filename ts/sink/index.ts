// Where closed windows and finished flows go: one sink, built once with its dependencies, used
// by `analyze`, the engine and `serve --nats` alike.
export { WindowSink, type WindowSinkDeps, type WindowSinkStats } from './window-sink.js';
