import { InvalidOptionError } from './errors.js';

/**
 * The one place that spells kyoo's Redis keys. Every key of a queue is
 * `<prefix>:{<queue>}:<suffix>`: the braces make the queue name a Redis
 * Cluster hash tag, so all keys of one queue live in one slot and every Lua
 * script can touch them atomically.
 *
 * The README's "Under the hood" table is generated from {@link KEY_LAYOUT}.
 */
export const KEY_LAYOUT = [
  { name: 'jobs', type: 'hash', holds: 'job id → job record (msgpack header: attempts, backoff, created-at, timeout, priority, dedup; then the payload); plus one sentinel field that keeps the hash out of listpack encoding' },
  { name: 'ready', type: 'list', holds: 'ids of jobs without a priority waiting to run, oldest first' },
  { name: 'prio', type: 'zset', holds: 'ids of jobs with a priority waiting to run, scored `added-at ms − priority × priorityAgingMs` (lowest first)' },
  { name: 'priorities', type: 'hash', holds: 'job id → priority, for jobs that have one (kept across retries and replays)' },
  { name: 'group_of', type: 'hash', holds: 'grouped job id → `<seq><held><group>`: its place in its group (16 digits, in add order), `1` while a failed job holds its group\'s slot for its retry (strict order), and the group key; kept until it completes, is cancelled or is deleted' },
  { name: 'group_queue', type: 'zset', holds: 'grouped jobs waiting to run, every score 0, members `<group>\\0<seq>\\0<job id>`: sorted by group, then in the order added (one ZRANGEBYLEX finds a group\'s next)' },
  { name: 'group_turn', type: 'zset', holds: 'groups that may start a job now (one waiting, a slot free, the rate allowing), scored by virtual time: a lease takes the lowest; each start costs a group 1/weight' },
  { name: 'group_wait', type: 'zset', holds: 'groups with a job waiting and a slot free whose next start the rate or a back-off does not allow yet, scored by when it does (ms)' },
  { name: 'group_idle', type: 'zset', holds: 'idle groups whose rate state is still in use, scored by when it is not (ms): their `groups` entry is deleted then' },
  { name: 'groups', type: 'hash', holds: 'group → `<waiting>,<running>,<rate tat ms>`, for groups with a job waiting or running (or rate state in use)' },
  { name: 'group_conf', type: 'hash', holds: 'group → its own limits `<concurrency>,<rate max>,<rate ms>,<weight>` (-1 = the policy\'s default), set with `queue.groups.set()`' },
  { name: 'delayed', type: 'zset', holds: 'ids of jobs waiting for a run-at time (delay or retry backoff), scored by run-at ms' },
  { name: 'leased', type: 'zset', holds: 'ids of jobs a worker holds, scored by lease deadline ms; plus a sentinel at +inf that keeps it a skiplist' },
  { name: 'runs', type: 'hash', holds: 'job id → `<attempts>`, or `<attempts>:<fence>:<nonce>` while leased: that string is the lease\'s fencing token' },
  { name: 'errors', type: 'hash', holds: 'job id → error history (msgpack array, newest last, capped by the policy\'s maxErrors)' },
  { name: 'dead', type: 'zset', holds: 'the dead-letter queue: ids of jobs that ran out of attempts, scored by time of death ms' },
  { name: 'done', type: 'zset', holds: 'completed jobs kept by the policy, scored by completion ms' },
  { name: 'cancelled', type: 'zset', holds: 'cancelled jobs kept by the policy, scored by time of cancelling ms' },
  { name: 'progress', type: 'hash', holds: 'job id → `<attempt>,<ms>,<json>`: the latest progress a run reported (`job.progress(value)`)' },
  { name: 'results', type: 'hash', holds: 'job id → handler result (msgpack) of kept completed jobs' },
  { name: 'dedup', type: 'hash', holds: 'dedup key → id of the job holding it' },
  { name: 'dedup_exp', type: 'zset', holds: 'dedup keys with a window, scored by the window\'s end ms' },
  { name: 'schedules', type: 'hash', holds: 'schedule id → schedule spec (msgpack: timing, missed-run policy, job options, encoded data)' },
  { name: 'schedule_state', type: 'hash', holds: 'schedule id → schedule state (msgpack map written by the scripts: revision, paused, runs fired, last occurrence and job, skipped)' },
  { name: 'schedule_next', type: 'zset', holds: 'ids of schedules that will fire (not paused, not ended), scored by their next occurrence ms' },
  { name: 'schedule_wake', type: 'list', holds: 'wake-up token for standalone schedulers blocked on BLPOP (at most one element)' },
  { name: 'events', type: 'stream', holds: 'job events (added, started, progress, completed, failed, retried, dead, replayed, removed, cancelled, lease-expired, backed-off): fields `e` event, `j` job id, `a` attempt, `p` progress; trimmed to about the policy\'s eventsMaxLen' },
  { name: 'topics', type: 'hash', holds: 'topic name → id of the last topic outbox entry delivered into this queue (Redis Cluster only: see docs/design/015-topics.md)' },
  { name: 'metrics', type: 'hash', holds: 'counters, summed over every process: jobs per event kind (`added`, `started`, `completed`, `failed`, `retried`, `dead`, `cancelled`, `lease-expired`, `backed-off`, `replayed`, `removed`), written by the scripts; histogram buckets of wait and processing time (`wait:<le ms>`, `wait:sum`, `proc:<le ms>`, ...), added by workers every few seconds' },
  { name: 'workers', type: 'hash', holds: 'worker id → `<busy slots>,<slots>,<until ms>,<seen ms>`: what each worker last said of its slots with a lease or ack call, and when (metrics; an entry past its `until` is a worker that is gone, and is dropped)' },
  { name: 'redrive', type: 'hash', holds: 'the queue\'s redrive task, if any (an operator\'s resumable, rate-limited replay of dead jobs): `id`, `status` (preparing, active, done), `filter`, `created_at`, `total`, `replayed`, `skipped`, `finished_at`' },
  { name: 'redrive_ids', type: 'zset', holds: 'ids of the dead jobs the redrive task has still to replay, scored by the time of death it matched (a job dead again since is skipped); each is taken out in the call that replays it' },
  { name: 'meta', type: 'hash', holds: 'queue state and policy: `paused`, `list_until`, `hold_until` (a back-off), `rate_tat` (the rate state), `limited_until`, `group_vt` and `lane_vt` (turns), `group_seq`, and the fields of `packages/core/policy.json`' },
  { name: 'wake', type: 'list', holds: 'wake-up token for idle workers blocked on BLPOP (at most one element); beside it, each blocked worker also waits on its own `wake:<worker id>`, which its close() pushes to (that key lives a minute at most)' },
  { name: 'ids', type: 'string', holds: 'counter for generated job ids' },
  { name: 'fence', type: 'string', holds: 'counter for lease fencing tokens' },
] as const;

/**
 * The keys of a topic, `<prefix>:topic:{<topic>}:<suffix>` (their own hash
 * tag: a topic's keys share one slot, which is no queue's). The README's
 * "Under the hood" lists them too.
 */
export const TOPIC_KEY_LAYOUT = [
  { name: 'topic_subs', type: 'hash', holds: 'subscribed queue name → when it subscribed (ms)' },
  { name: 'topic_rev', type: 'string', holds: 'revision of the subscriber list, raised by every subscribe and unsubscribe (a publish names the revision it read)' },
  { name: 'topic_publishers', type: 'hash', holds: 'publisher id → id of its newest message applied: a publish resent after a reconnect is recognised, not delivered twice' },
  { name: 'topic_seen', type: 'zset', holds: 'publisher id, scored by when it last published (ms): a publisher idle for a day is dropped from `publishers`' },
  { name: 'topic_ids', type: 'string', holds: 'counter for message ids (publishers reserve blocks of it)' },
  { name: 'topic_outbox', type: 'stream', holds: 'Redis Cluster only: messages on their way to subscriber queues in other slots (fields `j` job id, `d` delay, `o` options, `r` record, `q` the queues subscribed when it was published), trimmed once each of them has it' },
] as const;

/** Name of one of a topic's keys, as listed in {@link TOPIC_KEY_LAYOUT}. */
export type TopicKeyName = (typeof TOPIC_KEY_LAYOUT)[number]['name'];

/** Every key of one topic, by name. */
export type TopicKeys = Readonly<Record<TopicKeyName, string>>;

/**
 * Builds all keys of a topic (topic names follow the rules of queue names).
 * @example
 * topicKeys('kyoo', 'orders').topic_outbox // 'kyoo:topic:{orders}:outbox'
 */
export function topicKeys(prefix: string, topic: string): TopicKeys {
  const base = `${validatePrefix(prefix)}:topic:{${validateQueueName(topic, 'topic')}}:`;
  const keys = {} as Record<TopicKeyName, string>;
  for (const { name } of TOPIC_KEY_LAYOUT) keys[name] = base + name.slice('topic_'.length);
  return Object.freeze(keys);
}

/** Name of one of a queue's keys, as listed in {@link KEY_LAYOUT}. */
export type KeyName = (typeof KEY_LAYOUT)[number]['name'];

/** Every key of one queue, by name. */
export type QueueKeys = Readonly<Record<KeyName, string>>;

/** Default key prefix. */
export const DEFAULT_PREFIX = 'kyoo';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.#:-]{0,127}$/;

/**
 * Checks a queue name: 1–128 characters, letters, digits and `_ . # : -`,
 * starting with a letter or digit. Braces are refused because they would
 * break the Cluster hash tag.
 */
export function validateQueueName(name: unknown, what: 'queue' | 'topic' = 'queue'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidOptionError(
      what === 'queue' ? 'queueName' : 'topicName',
      `${what} name must be 1-128 characters of letters, digits and "_ . # : -", starting with a letter or digit; got ${describe(name)}`,
    );
  }
  return name;
}

/** Checks a key prefix: same alphabet as queue names. */
export function validatePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !NAME_RE.test(prefix)) {
    throw new InvalidOptionError(
      'prefix',
      `prefix must be 1-128 characters of letters, digits and "_ . # : -"; got ${describe(prefix)}`,
    );
  }
  return prefix;
}

/**
 * Builds all keys of a queue.
 * @example
 * queueKeys('kyoo', 'images').ready // 'kyoo:{images}:ready'
 */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${validatePrefix(prefix)}:{${validateQueueName(queue)}}:`;
  const keys = {} as Record<KeyName, string>;
  for (const { name } of KEY_LAYOUT) keys[name] = base + name;
  return Object.freeze(keys);
}

/** A SCAN pattern matching every key of a queue (for tests and tooling). */
export function queueKeyPattern(prefix: string, queue: string): string {
  return `${prefix}:{${queue}}:*`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}
