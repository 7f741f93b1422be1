// Types for spike.mjs (the traffic-spike scenario), for the TypeScript tests that import it.
export interface SpikeOptions {
  jobs?: number;
  workers?: number;
  producers?: number;
  jobMs?: number;
  inFlight?: number;
  cost?: 'sleep' | 'cpu';
  timeoutMs?: number;
  redisUrl?: string;
  log?: (line: string) => void;
}
export interface SpikeResult {
  jobs: number; workers: number; producers: number; jobMs: number; cost: string; inFlight: number;
  redisVersion: string | undefined; cpus: number; loadAvg: number;
  added: number; addFailures: number;
  addLatencyMs: { p50: number; p99: number; max: number };
  burstMs: number; addRate: number;
  peakBacklog: number; peakBacklogAtMs: number; samples: number;
  drainMs: number; drainAfterBurstMs: number; idealDrainMs: number; idealRate: number;
  achievedRate: number; perWorkerRate: number; efficiency: number;
  completed: number; lost: number; duplicates: number; unknown: number;
  final: { ready: number; delayed: number; leased: number; dead: number; completed: number; paused: boolean };
  problems: string[];
}
export const SPIKE_DEFAULTS: Readonly<Required<Omit<SpikeOptions, 'redisUrl' | 'log'>>>;
export function runSpike(options?: SpikeOptions): Promise<SpikeResult>;
export function formatSpike(result: SpikeResult): string;
