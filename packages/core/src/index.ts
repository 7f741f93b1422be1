export { KEY_LAYOUT, TOPIC_KEY_LAYOUT, DEFAULT_PREFIX, queueKeys, topicKeys, queueKeyPattern, validateQueueName, validatePrefix } from './keys.js';
export type { KeyName, QueueKeys, TopicKeyName, TopicKeys } from './keys.js';
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
} from './errors.js';
export type { KyooErrorCode } from './errors.js';
export { ResultCode } from './codes.js';
export { encode, decode, encodeData, decodeData, checkExact, encodeRecord, encodeRecordHeader, frameRecord, decodeRecord, decodeErrors, BACKOFF_TYPES } from './codec.js';
export type { JobRecord, DecodedRecord, JobError } from './codec.js';
export { Scripts } from './scripts.js';
export type { ScriptName, ScriptArgs, ScriptReply } from './scripts.js';
export { SCRIPTS, LIBRARY, RECORD_VERSION, RECORD_FIELDS, POLICY_FIELDS } from './scripts.generated.js';
export type { LeasedJob, LeaseReply, EnqueueOutcome, DueReply, DueSchedule } from './replies.js';
export { SPEC_VERSION, encodeSpec, decodeSpec, decodeScheduleState, timingFingerprint, occurrenceJobId, planFiring, jobOpts } from './schedule.js';
export type { StoredSpec, ScheduleJob, ScheduleState, MissedPolicy, FiringPlan } from './schedule.js';
export { ScheduleFirer } from './schedule-firer.js';
export { Occurrences, resolveTiming, CATCH_UP_COUNT_CAP } from './occurrences.js';
export type { Timing, TimingOptions } from './occurrences.js';
export type { FireResult } from './schedule-firer.js';
export { connect, duplicate, isCluster, release, serverFor, whenReady } from './connection.js';
export type { ClusterConnectionOptions, ConnectionOption, OwnedConnection, RedisConnection } from './connection.js';
export { CLUSTER_SLOTS, keySlot } from './slot.js';
export {
  JOB_DEFAULTS,
  MAX_DURATION_MS,
  checkId,
  checkGroup,
  checkInt,
  checkNumber,
  checkObject,
  checkKnownKeys,
  resolveBackoff,
  backoffDelay,
} from './options.js';
export type { BackoffOptions, ResolvedBackoff } from './options.js';
export { log, short } from './log.js';
export { Listeners } from './listeners.js';
export { setLongTimeout, MAX_TIMER_MS } from './timers.js';
export type { LongTimer } from './timers.js';
export { policyFields, rateLimit, readPolicy, POLICY_META_FIELDS } from './policy.js';
export type { QueuePolicy, ResolvedQueuePolicy, RateLimit, GroupPolicy } from './policy.js';
export { encodeProgress, decodeProgress, MAX_PROGRESS_BYTES } from './progress.js';
export type { JsonValue, JobProgress } from './progress.js';
export { HISTOGRAM_BOUNDS_MS, Histogram, bucketField } from './metrics.js';
export type { HistogramName } from './metrics.js';
export { OtelLoader, noTracerProvider, holdsSpan, traceContextOf, spanContextFrom, messagingAttributes, errorType, endFailed, quietly } from './tracing.js';
export type { TraceContext, OtelApi, OtelContext, OtelSpan, OtelSpanContext, OtelSpanOptions, OtelTracer } from './tracing.js';
