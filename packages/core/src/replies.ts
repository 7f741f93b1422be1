import type { ResultCode } from './codes.js';

/** One job handed out by a lease: its id, the lease's fencing token, the attempt it starts, its record. */
export interface LeasedJob {
  id: string;
  token: string;
  attempt: number;
  record: Buffer;
}

/** A lease reply: the jobs, and when to look again (ms; 0 = nothing due, -1 = the batch was full). */
export interface LeaseReply {
  nextInMs: number;
  /** The queue's policy keeps completed jobs: send results with the acks. */
  keepResults: boolean;
  jobs: LeasedJob[];
}

/** What one enqueued job became. */
export interface EnqueueOutcome {
  id: string;
  code: ResultCode;
}

function lease(raw: unknown): LeaseReply {
  const r = raw as unknown[];
  const jobs: LeasedJob[] = [];
  for (let i = 2; i + 3 < r.length; i += 4) {
    jobs.push({ id: String(r[i]), token: String(r[i + 1]), attempt: Number(r[i + 2]), record: r[i + 3] as Buffer });
  }
  return { nextInMs: Number(r[0]), keepResults: Number(r[1]) === 1, jobs };
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
  enqueue: (raw: unknown): EnqueueOutcome[] => {
    const r = raw as unknown[];
    const out: EnqueueOutcome[] = [];
    for (let i = 0; i < r.length; i += 2) out.push({ id: String(r[i]), code: Number(r[i + 1]) as ResultCode });
    return out;
  },
} as const;
