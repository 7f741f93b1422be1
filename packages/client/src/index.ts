export { Queue } from './queue.js';
export type { QueueOptions, QueueCounts, BulkJob, AddResult, CancelOutcome } from './queue.js';
export type { JobOptions, DedupOptions } from './job-options.js';
export type { JobInfo, JobState } from './job-info.js';
export { DeadLetters } from './dead-letters.js';
export { Schedules } from './schedules.js';
export type { ScheduleInfo, UpsertResult } from './schedules.js';
export type { ScheduleSpec, ScheduleJobOptions } from './schedule-spec.js';
export { Scheduler } from './scheduler.js';
export { Topic } from './topic.js';
export { prometheusText } from './metrics.js';
export type { QueueMetrics, HistogramSnapshot, PrometheusOptions } from './metrics.js';
export type { TopicOptions, PublishOptions, PublishResult } from './topic.js';
export { EventsGapError } from './events.js';
export type { QueueEvent, QueueEventType, EventsOptions } from './events.js';
export type { ResultOptions } from './results.js';
export type { SchedulerOptions, SchedulerEvents } from './scheduler.js';
export { DurabilityError } from './durability.js';
export type { DurabilityOptions } from './durability.js';
export type { DeadLetterResult, DeadJob, DeadLetterPage, DeadLetterGroup } from './dead-letters.js';
export type { DeadLetterFilter, DeadLetterFilterSummary } from './dead-filter.js';
export { errorFingerprint } from './fingerprint.js';
export type { ErrorFingerprint } from './fingerprint.js';
export { RedriveError } from './redrive.js';
export type { RedriveTask, RedriveRunOptions, RedriveRefusal } from './redrive.js';
export type { QueueStats, RecentActivity, StatsOptions } from './stats.js';
export { findQueues } from './queues.js';
export type { FindQueuesOptions } from './queues.js';
export {
  KyooError,
  InvalidOptionError,
  PayloadTooLargeError,
  LeaseLostError,
  ConnectionClosedError,
  DecodeError,
  JobTimeoutError,
  HandlerError,
  ListenerError,
  QueueFullError,
  JobCancelledError,
  RecordVersionError,
  ScheduleError,
  JobFailedError,
  JobNotFoundError,
  WaitTimeoutError,
  BackOffError,
  ResultCode,
  HISTOGRAM_BOUNDS_MS,
} from '@kyoo/core';
export { Groups } from './groups.js';
export { Jobs } from './jobs.js';
export type { JobListPage, JobQuery, JobSearchPage, RunNowResult } from './jobs.js';
export type { WorkerInfo } from './workers.js';
export type { GroupLimits, GroupInfo, GroupDetail, GroupPage } from './groups.js';
export type { MissedPolicy, KyooErrorCode, JobError, BackoffOptions, ConnectionOption, ClusterConnectionOptions, QueuePolicy, ResolvedQueuePolicy, RateLimit, GroupPolicy, JsonValue, JobProgress } from '@kyoo/core';
