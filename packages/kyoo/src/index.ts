export * from '@kyoo/client';
export { Worker } from '@kyoo/worker';
export type { WorkerEvents, WorkerOptions, KeepCompleted, Job, Handler } from '@kyoo/worker';
