import { Counter, Histogram, type Registry } from 'prom-client';

/** The gateway's own series, beside the process metrics and per-operation ones from the kernel plugin. */
export function createGatewayMetrics(registry: Registry) {
  return {
    subgraphRequests: new Histogram({
      name: 'gateway_subgraph_request_duration_seconds',
      help: 'Requests from the gateway to subgraphs',
      labelNames: ['subgraph', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    authentications: new Counter({
      name: 'gateway_authentications_total',
      help: 'Requests by authentication outcome: the principal kind, or why credentials were refused',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    supergraphLoads: new Counter({
      name: 'gateway_supergraph_loads_total',
      help: 'Supergraph (re)loads by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
