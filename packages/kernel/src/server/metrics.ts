import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';

/**
 * One registry per service. In the embedded profile every service runs in one process, so the global
 * default registry would mix them; each service's /metrics shows only its own.
 */
export function createMetricsRegistry(service: string, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Counts and times GraphQL operations by name and outcome. */
export function graphqlMetricsPlugin<TContext extends BaseContext>(
  registry: Registry,
): ApolloServerPlugin<TContext> {
  const requests = new Counter({
    name: 'graphql_requests_total',
    help: 'GraphQL operations handled',
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'GraphQL operation latency',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Operation names come from clients: cap the label's cardinality so /metrics cannot be blown up.
  const seen = new Set<string>();
  const label = (name: string | undefined) => {
    const operation = name ?? '(anonymous)';
    if (seen.has(operation)) return operation;
    if (seen.size >= 500) return '(other)';
    seen.add(operation);
    return operation;
  };
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(requestContext) {
          const operation = label(requestContext.operationName ?? undefined);
          const body = requestContext.response.body;
          const failed = body.kind === 'single' && (body.singleResult.errors?.length ?? 0) > 0;
          requests.inc({ operation, outcome: failed ? 'error' : 'ok' });
          duration.observe({ operation }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}
