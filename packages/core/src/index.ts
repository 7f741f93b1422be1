export { KEY_LAYOUT, DEFAULT_PREFIX, queueKeys, queueKeyPattern, validateQueueName, validatePrefix } from './keys.js';
export type { KeyName, QueueKeys } from './keys.js';
export {
  KyooError,
  InvalidOptionError,
  PayloadTooLargeError,
  LeaseLostError,
  ConnectionClosedError,
  DecodeError,
  JobTimeoutError,
  HandlerError,
} from './errors.js';
export type { KyooErrorCode } from './errors.js';
export { ResultCode } from './codes.js';
export { encode, decode, encodeRecord, decodeRecord, decodeErrors, BACKOFF_TYPES } from './codec.js';
export type { JobRecord, JobError } from './codec.js';
export { ScriptRunner } from './scripts.js';
export type { ScriptName } from './scripts.js';
export { SCRIPTS } from './scripts.generated.js';
export { connect, duplicate, isCluster, release, serverFor } from './connection.js';
export type { ClusterConnectionOptions, ConnectionOption, OwnedConnection, RedisConnection } from './connection.js';
export { CLUSTER_SLOTS, keySlot } from './slot.js';
export {
  JOB_DEFAULTS,
  MAX_DURATION_MS,
  checkInt,
  checkNumber,
  checkObject,
  checkKnownKeys,
  resolveBackoff,
  backoffDelay,
} from './options.js';
export type { BackoffOptions, ResolvedBackoff } from './options.js';
export { log, short } from './log.js';
