export * from '@kyoo/client';
export { Worker } from '@kyoo/worker';
export type { WorkerEvents, WorkerOptions, Job, Handler } from '@kyoo/worker';
