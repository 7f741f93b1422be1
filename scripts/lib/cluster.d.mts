// Type declarations for ./cluster.mjs.
import type { RedisServer } from './redis.mjs';

export interface StartClusterOptions {
  /** Masters (each serving a third, a half... of the 16384 slots). @defaultValue 3 */
  masters?: number | undefined;
  /** Replicas of each master. @defaultValue 1 */
  replicasPerMaster?: number | undefined;
  /** Extra redis-server arguments for every node. */
  args?: readonly string[] | undefined;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** Node id of its master, for a replica. */
  masterId: string | null;
  /** Slot ranges a master serves, inclusive: [[0, 5460], ...]. */
  slots: [number, number][];
  /** The process behind the node (stop, kill, restart, pause...). */
  server: RedisServer | undefined;
}

export interface RedisCluster {
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...`: every node, as kyoo's `connection` string accepts it. */
  readonly url: string;
  /** Every node as `{ host, port }` (ioredis Cluster startup nodes). */
  readonly startupNodes: { host: string; port: number }[];
  /** One redis-server per node, in start order. */
  readonly servers: RedisServer[];
  /** Roles and slots as one node currently sees them (CLUSTER NODES). */
  topology(): Promise<ClusterNodeInfo[]>;
  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes their temp dirs. */
  stop(): Promise<void>;
}

/** The cluster slot of a key (of its hash tag, if it has one), as CLUSTER KEYSLOT computes it. */
export function keySlot(key: string): number;

/**
 * Starts a local Redis Cluster (default 3 masters with 1 replica each) on free loopback
 * ports; resolves once every node reports cluster_state:ok and every replica shows in
 * CLUSTER SLOTS (about 3-6 s).
 */
export function startCluster(options?: StartClusterOptions): Promise<RedisCluster>;
