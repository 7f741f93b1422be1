// Values handed from test/global-setup.ts to the test workers.
declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis server shared by the whole test run. */
    redisUrl: string;
  }
}

export {};
