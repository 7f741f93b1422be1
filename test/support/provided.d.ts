// Values handed from the projects' global setups (test/global-setup.ts, test/cluster/global-setup.ts) to the test workers.
declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * The Redis target shared by the whole test project: `redis://...` (one server) or
     * `redis-cluster://host:port,...` (the cluster's startup nodes).
     */
    redisUrl: string;
  }
}

export {};
