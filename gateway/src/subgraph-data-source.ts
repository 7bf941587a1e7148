import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { Agent } from 'undici';
import {
  ANONYMOUS,
  childTrace,
  formatTraceparent,
  INTERNAL_TOKEN_HEADER,
  signInternalToken,
} from '@symbeon/kernel';
import type { GatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';

// @apollo/gateway does not export its GraphQLDataSourceRequestKind enum; these are its values.
const INCOMING_OPERATION = 'incoming operation';
const HEALTH_CHECK = 'health check';

export const SUBGRAPH_UNAVAILABLE = 'SUBGRAPH_UNAVAILABLE';
export const SUBGRAPH_BAD_RESPONSE = 'SUBGRAPH_BAD_RESPONSE';

/**
 * Keep-alive connection pools to subgraphs, shared by every data source. The stock RemoteGraphQLDataSource
 * goes through make-fetch-happen and builds a node-fetch Request per call: measured as the plain gateway's
 * top hot spot.
 */
export function createSubgraphAgent(options: { connections: number; timeoutMs: number }): Agent {
  return new Agent({
    connections: options.connections,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connect: { timeout: Math.min(options.timeoutMs, 5_000) },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  agent: Agent;
  metrics: GatewayMetrics;
  timeoutMs: number;
  /** Signs the internal token every subgraph request carries (see the kernel's internal-token.ts). */
  internalAuthSecret: string;
}

function isGraphQLResult(value: unknown): value is GatewayGraphQLResponse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const result = value as { data?: unknown; errors?: unknown };
  return (result.data !== undefined && typeof result.data === 'object') || Array.isArray(result.errors);
}

/** Talks to one subgraph over the shared pool; failures become coded errors, never raw exceptions. */
export class SubgraphDataSource implements GraphQLDataSource<GatewayContext> {
  readonly name: string;
  readonly url: string;
  private readonly origin: string;
  private readonly path: string;

  constructor(private readonly options: SubgraphDataSourceOptions) {
    this.name = options.name;
    this.url = options.url;
    const url = new URL(options.url);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
  }

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    };
    const context =
      (options.kind as string) === INCOMING_OPERATION ? (options.context as GatewayContext) : undefined;
    if (context) {
      headers['x-request-id'] = context.requestId;
      headers.traceparent = formatTraceparent(childTrace(context.trace));
    }
    // Every request carries one, health checks included (as anonymous): subgraphs refuse any without.
    // Cached per principal by the kernel, so this rarely signs.
    headers[INTERNAL_TOKEN_HEADER] = await signInternalToken(
      this.options.internalAuthSecret,
      context?.principal ?? ANONYMOUS,
      context?.requestId ?? `gateway-${options.kind as string}`,
    );
    const body = JSON.stringify({
      query: request.query,
      variables: request.variables,
      operationName: request.operationName,
      extensions: request.extensions,
    });
    const started = process.hrtime.bigint();
    const observe = (outcome: string) =>
      this.options.metrics.subgraphRequests.observe(
        { subgraph: this.name, outcome },
        Number(process.hrtime.bigint() - started) / 1e9,
      );

    let response;
    try {
      response = await this.options.agent.request({
        origin: this.origin,
        path: this.path,
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      observe('unavailable');
      throw new GraphQLError(`Subgraph "${this.name}" is unavailable`, {
        extensions: { code: SUBGRAPH_UNAVAILABLE, serviceName: this.name },
        originalError: error instanceof Error ? error : undefined,
      });
    }
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!isGraphQLResult(parsed)) {
      observe('bad_response');
      throw new GraphQLError(
        `Subgraph "${this.name}" answered with HTTP ${response.statusCode} and no GraphQL result`,
        {
          extensions: { code: SUBGRAPH_BAD_RESPONSE, serviceName: this.name },
        },
      );
    }
    observe(response.statusCode < 400 ? 'ok' : `http_${response.statusCode}`);
    // GraphQL-over-HTTP answers 4xx with a GraphQL body for request errors: pass its errors on.
    return parsed;
  }

  /** Readiness: a trivial query through the same path, headers and pool as real traffic. */
  async check(): Promise<void> {
    const result = await this.process({
      kind: HEALTH_CHECK,
      request: { query: 'query __ApolloServiceHealthCheck__ { __typename }' },
      context: {},
    } as unknown as GraphQLDataSourceProcessOptions<GatewayContext>);
    if (result.errors?.length) throw new Error(result.errors[0]?.message ?? 'health check failed');
  }
}
