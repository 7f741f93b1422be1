export { Worker } from './worker.js';
export type { WorkerEvents } from './worker.js';
export type { WorkerOptions, TracingOptions } from './options.js';
export type { Job, Handler } from './job.js';
export {
  KyooError,
  InvalidOptionError,
  LeaseLostError,
  ConnectionClosedError,
  DecodeError,
  JobTimeoutError,
  HandlerError,
  ListenerError,
  JobCancelledError,
  RecordVersionError,
  BackOffError,
} from '@kyoo/core';
export type { KyooErrorCode, TraceContext } from '@kyoo/core';
