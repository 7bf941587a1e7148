// autocannon 8 ships no type declarations: the subset of its programmatic API the benchmarks use
// (README "API" and lib/aggregateResult.js).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface AutocannonOptions {
    url: string;
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Concurrent connections (default 10). */
    connections?: number;
    /** Seconds (default 10). */
    duration?: number;
    /** Seconds to wait for a response before counting a timeout (default 10). */
    timeout?: number;
    pipelining?: number;
    title?: string;
    /** Responses whose body differs are counted in `mismatches`. */
    expectBody?: string;
    /** Like expectBody (counted in `mismatches`), as a function; expectBody cannot be used with `requests`. */
    verifyBody?: (body: string) => boolean;
    /** Requests sent in turn; each overrides the defaults above. */
    requests?: AutocannonRequest[];
  }

  /** What `setupRequest` receives (the defaults merged with the request) and returns. */
  interface AutocannonRequestData {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string | Buffer;
    [option: string]: unknown;
  }

  interface AutocannonRequest {
    method?: AutocannonOptions['method'];
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Called before each request is sent (which makes autocannon build every request anew). */
    setupRequest?: (
      request: AutocannonRequestData,
      context: Record<string, unknown>,
    ) => AutocannonRequestData | null | undefined;
  }

  /** hdr-histogram-percentiles-obj */
  interface AutocannonHistogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total?: number;
    p0_001: number;
    p0_01: number;
    p0_1: number;
    p1: number;
    p2_5: number;
    p10: number;
    p25: number;
    p50: number;
    p75: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
    p99_99: number;
    p99_999: number;
  }

  interface AutocannonResult {
    title?: string;
    url: string;
    connections: number;
    pipelining: number;
    /** Seconds. */
    duration: number;
    samples: number;
    start: Date;
    finish: Date;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    '1xx': number;
    '2xx': number;
    '3xx': number;
    '4xx': number;
    '5xx': number;
    statusCodeStats: Record<string, { count: number }>;
    /** Milliseconds (1 ms resolution). */
    latency: AutocannonHistogram & { totalCount: number };
    /** Requests per second sample; `total` is the number of completed requests, `sent` of sent ones. */
    requests: AutocannonHistogram & { total: number; sent: number };
    /** Bytes per second sample; `total` is all bytes received. */
    throughput: AutocannonHistogram & { total: number };
  }

  interface AutocannonInstance extends EventEmitter {
    stop(): void;
  }

  type AutocannonCallback = (error: Error | null, result: AutocannonResult) => void;

  function autocannon(options: AutocannonOptions, callback: AutocannonCallback): AutocannonInstance;

  export type {
    AutocannonOptions,
    AutocannonRequest,
    AutocannonRequestData,
    AutocannonHistogram,
    AutocannonResult,
    AutocannonInstance,
    AutocannonCallback,
  };
  export default autocannon;
}
