export * from '@kyoo/client';
export { Worker } from '@kyoo/worker';
export type { WorkerEvents, WorkerOptions, TracingOptions, Job, Handler, TraceContext } from '@kyoo/worker';
