export { Queue } from './queue.js';
export type { QueueOptions, QueueCounts, BulkJob } from './queue.js';
export type { JobOptions } from './job-options.js';
export type { JobInfo, JobState } from './job-info.js';
export { DeadLetters } from './dead-letters.js';
export { DurabilityError } from './durability.js';
export type { DurabilityOptions } from './durability.js';
export type { DeadLetterResult } from './dead-letters.js';
export {
  KyooError,
  InvalidOptionError,
  PayloadTooLargeError,
  LeaseLostError,
  ConnectionClosedError,
  DecodeError,
  JobTimeoutError,
  HandlerError,
  ResultCode,
} from '@kyoo/core';
export type { KyooErrorCode, JobError, BackoffOptions, ConnectionOption, ClusterConnectionOptions } from '@kyoo/core';
