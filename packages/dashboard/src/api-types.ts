/**
 * The dashboard's JSON API, shared by the server (`src/`) and the page
 * (`ui/`). Every route is relative to where the dashboard is mounted; every
 * time is ms since epoch (Redis clock unless said otherwise).
 *
 * GET  api/overview                                  → Overview
 * GET  api/queues/:q                                 → QueueDetail
 * GET  api/queues/:q/history?range=5m|1h|24h         → History
 * GET  api/queues/:q/jobs?state=S&offset=&limit=     → JobPage (plain listing)
 * GET  api/queues/:q/jobs?state=S&id=|field=&value=|text=|error=&cursor=  → JobPage (search, bounded scan)
 * GET  api/queues/:q/jobs/:id                        → JobDetail (404 ApiError when no such job)
 * GET  api/queues/:q/dead/groups                     → DeadGroups
 * GET  api/queues/:q/schedules                       → ScheduleRow[] in { schedules }
 * GET  api/queues/:q/groups?cursor=                  → GroupsPage
 * GET  api/queues/:q/workers                         → WorkersPage
 * POST api/queues/:q/actions   body ActionRequest    → ActionResult (403 ApiError: read-only, cross-site, forbidden)
 * GET  api/events?queues=a,b                         → text/event-stream of LiveMessage (event names: `tick`, `jobs`, `redrive`)
 */

/** The states a job list shows; the same names as a JobInfo's `state`. */
export type ListState = 'ready' | 'delayed' | 'leased' | 'completed' | 'dead' | 'cancelled';

export interface Counts {
  ready: number;
  delayed: number;
  leased: number;
  completed: number;
  dead: number;
  cancelled: number;
}

/** One queue on the overview. */
export interface QueueSummary {
  name: string;
  paused: boolean;
  counts: Counts;
  /** Age of the waiting job first in line (ms), 0 when none waits. */
  oldestWaitingMs: number;
  /** Workers seen recently, and their slots. */
  workers: number;
  busySlots: number;
  idleSlots: number;
  /** Completed (and failed, dead) jobs per second over the last sample interval; 0 before the second sample. */
  rates: Rates;
  /** Set when jobs wait and no worker has been seen. */
  warning?: 'no-workers';
}

export interface Rates {
  added: number;
  completed: number;
  failed: number;
  dead: number;
}

export interface Overview {
  at: number;
  readOnly: boolean;
  queues: QueueSummary[];
}

export interface QueueDetail extends QueueSummary {
  at: number;
  readOnly: boolean;
  /** Groups with a job waiting or running; schedules defined. */
  groupCount: number;
  scheduleCount: number;
  /** The queue's policy as it applies now (free-form, shown as key/value). */
  policy: Record<string, unknown>;
  /** The redrive task in progress or last done, if any. */
  redrive: RedriveProgress | null;
}

/** One point of a chart: rates (per second) and latency quantiles (ms) over the step ending at `t`. */
export interface HistoryPoint {
  t: number;
  added: number;
  completed: number;
  failed: number;
  dead: number;
  /** Wait (added → started) and processing (started → settled) quantiles over the step, from the workers' histograms; null when no job was observed. */
  waitP50: number | null;
  waitP95: number | null;
  procP50: number | null;
  procP95: number | null;
}

export interface History {
  range: '5m' | '1h' | '24h';
  stepMs: number;
  /** Since when this dashboard process has samples (history begins when it starts). */
  since: number;
  points: HistoryPoint[];
}

/** A job as a list row shows it. */
export interface JobRow {
  id: string;
  state: ListState;
  createdAt: number;
  attemptsMade: number;
  attempts: number;
  priority: number;
  group?: string;
  /** Run-at (delayed), lease deadline (leased), time of death/completion/cancel. */
  stateSince?: number;
  /** The payload as JSON, cut to 160 characters. */
  preview: string;
  /** The last error's `name: message`, cut to 160 characters. */
  error?: string;
}

export interface JobPage {
  state: ListState;
  /** Jobs in that state (O(1) count). */
  total: number;
  jobs: JobRow[];
  /** Plain listing: the offset and limit served (offset at most 10,000 from either end). */
  offset?: number;
  limit?: number;
  /** Search: how many jobs this call looked at (at most `scanLimit`), and the cursor to scan on from (absent when the whole state was scanned). */
  scanned?: number;
  scanLimit?: number;
  /** Matches found so far by this search call (≤ limit). */
  matched?: number;
  cursor?: string;
}

export interface JobErrorView {
  name: string;
  message: string;
  stack?: string;
  attempt: number;
  at: number;
}

export interface TimelineEntry {
  at: number;
  kind: 'added' | 'failed' | 'leased' | 'delayed' | 'completed' | 'dead' | 'cancelled' | 'progress';
  text: string;
}

export interface JobDetail {
  queue: string;
  id: string;
  state: ListState;
  data: unknown;
  decodeError?: string;
  createdAt: number;
  stateSince?: number;
  attemptsMade: number;
  options: { attempts: number; priority: number; timeoutMs: number; group?: string; dedupKey?: string; backoff?: unknown };
  schedule?: { id: string; occurrence: number };
  /** Errors, newest first, each with its stack. */
  errors: JobErrorView[];
  /** For a leased job: who holds it (worker id when known) and until when. */
  lease?: { worker: string | null; expiresAt: number; token: string };
  traceId?: string;
  result?: unknown;
  progress?: { value: unknown; at: number; attempt: number };
  timeline: TimelineEntry[];
}

export interface DeadGroup {
  fingerprint: string;
  name: string;
  message: string;
  frame: string;
  count: number;
  oldest: number;
  newest: number;
  sample: { id: string; message: string };
}

export interface DeadGroups {
  /** Dead jobs in all; the groups cover the newest `scanned` of them (at most 10,000). */
  total: number;
  scanned: number;
  groups: DeadGroup[];
  redrive: RedriveProgress | null;
}

export interface RedriveProgress {
  id: string;
  status: 'preparing' | 'active' | 'done';
  total: number;
  replayed: number;
  skipped: number;
  left: number;
  /** Replays per second it runs at (null = no limit), and whether this dashboard process is running it now. */
  ratePerSec: number | null;
  running: boolean;
  filter: Record<string, unknown>;
  createdAt: number;
  finishedAt?: number;
}

export interface ScheduleRow {
  id: string;
  every: string;
  paused: boolean;
  ended: boolean;
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastJobId: string | null;
  runs: number;
}

export interface GroupsPage {
  total: number;
  groups: { group: string; waiting: number; running: number }[];
  cursor?: string;
}

export interface WorkerRow {
  id: string;
  busy: number;
  slots: number;
  /** When it last called (lease, ack or idle wake-up), and until when it counts as alive. */
  lastSeenAt: number | null;
  expiresAt: number;
  alive: boolean;
}

export interface WorkersPage {
  at: number;
  workers: WorkerRow[];
}

/** What a search or filter selects (the same fields as the jobs route's query). */
export interface Selection {
  state: ListState;
  id?: string;
  field?: string;
  value?: string;
  text?: string;
  error?: string;
  /** For the dead state: jobs whose last error has this fingerprint. */
  fingerprint?: string;
}

export type ActionName = 'pause' | 'resume' | 'replay' | 'retry' | 'promote' | 'cancel' | 'remove' | 'purge' | 'stop-redrive';

/**
 * An action. On jobs it names them by `ids` (a selection on the page) or by
 * `select` (everything a filter matches): with `select`, a call with
 * `dryRun: true` answers the count, and the real call must pass that count
 * back as `expect` (refused with 409 when the count has changed).
 * `replay` of dead jobs with `ratePerSec` runs as a redrive task whose
 * progress the `redrive` live event and QueueDetail report.
 */
export interface ActionRequest {
  action: ActionName;
  ids?: string[];
  select?: Selection;
  dryRun?: boolean;
  expect?: number;
  ratePerSec?: number;
}

export interface ActionResult {
  action: ActionName;
  /** Jobs matched (dry run) or acted on. */
  count: number;
  done: number;
  /** Jobs that could not be acted on, and why (e.g. 'not dead', 'not found', 'running'). */
  skipped: { id: string; reason: string }[];
  dryRun?: boolean;
  redrive?: RedriveProgress;
}

export interface ApiError {
  error: 'read-only' | 'cross-site' | 'forbidden' | 'not-found' | 'bad-request' | 'conflict' | 'internal';
  message: string;
}

/** `tick`: every second while a page listens: the queues it asked for (or all). */
export interface TickMessage {
  at: number;
  queues: QueueSummary[];
}

/** `jobs`: job events read from the queues' events streams since the last message. */
export interface JobsMessage {
  queue: string;
  /** Event type (added, completed, dead, ...) → job ids (at most 100 per type; `counts` has the totals). */
  ids: Record<string, string[]>;
  counts: Record<string, number>;
}

/** `redrive`: a redrive task's progress. */
export interface RedriveMessage {
  queue: string;
  redrive: RedriveProgress;
}
