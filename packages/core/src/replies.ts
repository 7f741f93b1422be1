import type { ResultCode } from './codes.js';

/** One job handed out by a lease: its id, the lease's fencing token, the attempt it starts, its record. */
export interface LeasedJob {
  id: string;
  token: string;
  attempt: number;
  record: Buffer;
  /** When it became runnable (Redis clock, ms): its run-at after a delay or backoff; 0 when it was ready from its add. */
  runnableAt: number;
  /** Redis's time at the lease, ms. */
  leasedAt: number;
}

/** A lease reply: the jobs, and when to look again (ms; 0 = nothing due, -1 = the batch was full). */
export interface LeaseReply {
  nextInMs: number;
  /** The queue's policy keeps completed jobs: send results with the acks. */
  keepResults: boolean;
  /** Ms until the queue's next schedule occurrence (0 = due now, -1 = no schedule): the worker fires it then. */
  scheduleInMs: number;
  /** Redis's time at the lease, ms. */
  now: number;
  jobs: LeasedJob[];
}

/** One schedule whose occurrence is due, as schedule-due reads it. */
export interface DueSchedule {
  id: string;
  /** The pending occurrence, ms since epoch. */
  next: number;
  /** The encoded spec ('' when it is missing). */
  spec: Buffer;
  /** The encoded state ('' when it is missing). */
  state: Buffer;
}

/** What schedule-due returns. */
export interface DueReply {
  /** Redis's time, ms. */
  now: number;
  /** The next occurrence of the first schedule not yet due (0 = none). */
  later: number;
  due: DueSchedule[];
}

/** What one enqueued job became. */
export interface EnqueueOutcome {
  id: string;
  code: ResultCode;
}

function lease(raw: unknown): LeaseReply {
  const r = raw as unknown[];
  const jobs: LeasedJob[] = [];
  const now = Number(r[3]);
  for (let i = 4; i + 4 < r.length; i += 5) {
    jobs.push({ id: String(r[i]), token: String(r[i + 1]), attempt: Number(r[i + 2]), record: r[i + 3] as Buffer, runnableAt: Number(r[i + 4]), leasedAt: now });
  }
  return { nextInMs: Number(r[0]), keepResults: Number(r[1]) === 1, scheduleInMs: Number(r[2]), now, jobs };
}

function outcomes(r: unknown[], from: number): EnqueueOutcome[] {
  const out: EnqueueOutcome[] = [];
  for (let i = from; i + 1 < r.length; i += 2) out.push({ id: String(r[i]), code: Number(r[i + 1]) as ResultCode });
  return out;
}

/**
 * Reply parsers, by the name a script's header gives on its `-- Reply:` line.
 * Replies arrive with bulk strings as Buffers (scripts are called with callBuffer).
 */
export const REPLIES = {
  code: (raw: unknown): ResultCode => Number(raw) as ResultCode,
  codes: (raw: unknown): ResultCode[] => (raw as unknown[]).map((c) => Number(c) as ResultCode),
  lease,
  ack: (raw: unknown): { codes: ResultCode[]; lease: LeaseReply } => {
    const [codes, rest] = raw as [unknown[], unknown];
    return { codes: codes.map((c) => Number(c) as ResultCode), lease: lease(rest) };
  },
  enqueue: (raw: unknown): EnqueueOutcome[] => outcomes(raw as unknown[], 0),
  numbers: (raw: unknown): number[] => (raw as unknown[]).map(Number),
  fire: (raw: unknown): { code: ResultCode; jobs: EnqueueOutcome[] } => {
    const r = raw as unknown[];
    return { code: Number(r[0]) as ResultCode, jobs: outcomes(r, 1) };
  },
  due: (raw: unknown): DueReply => {
    const r = raw as unknown[];
    const due: DueSchedule[] = [];
    for (let i = 2; i + 3 < r.length; i += 4) {
      due.push({ id: String(r[i]), next: Number(r[i + 1]), spec: r[i + 2] as Buffer, state: r[i + 3] as Buffer });
    }
    return { now: Number(r[0]), later: Number(r[1]), due };
  },
} as const;
