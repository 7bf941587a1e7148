import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  getOperationAST,
  GraphQLError,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { Logger, Principal } from '@symbeon/kernel';
import {
  AuthenticationError,
  AuthenticationUnavailableError,
  type Authenticator,
} from '../auth/authenticate.js';
import type { Removal } from '../authz/filter.js';
import { subjectOf, type GatewaySubject } from '../authz/policies.js';
import type { RateLimiter } from '../rate-limit/limiter.js';
import { endedWith, SubscriptionCode, type SubscriptionCaller, type SubscriptionEngine } from './engine.js';

type Decide = (input: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | null;
  subject: GatewaySubject;
}) =>
  | { refused: false; document: DocumentNode; removals: Removal[] }
  | { refused: true; response: { data?: null; errors: GraphQLError[] } };

export interface SubscriptionTransportOptions {
  engine: SubscriptionEngine;
  authenticator: Pick<Authenticator, 'authenticate'>;
  decide: Decide;
  limiter: RateLimiter;
  logger: Logger;
  /** Extra validation (depth...) besides the specified rules. */
  validationRules?: readonly ValidationRule[];
  /** How long a re-check of a connection's credentials is trusted (per event), ms. */
  recheckMs?: number;
}

// A type alias (not an interface) so it satisfies graphql-sse's Record<PropertyKey, unknown> constraint.
type OperationContext = {
  caller: SubscriptionCaller;
  removals: Removal[];
};

const coded = (code: string, message: string) => new GraphQLError(message, { extensions: { code } });

function rateKey(principal: Principal, clientIp: string) {
  if (principal.kind === 'api-key') return { key: `key:${principal.keyId}`, tier: principal.tier };
  if (principal.kind === 'user') return { key: `user:${principal.userId}`, tier: principal.tier };
  return { key: `ip:${clientIp}`, tier: 'ANONYMOUS' as const };
}

/** Credentials as the HTTP path reads them, from graphql-ws connectionParams (any key case). */
export function headersFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    const name = key.toLowerCase();
    if ((name === 'authorization' || name === 'x-api-key') && typeof value === 'string')
      headers[name] = value;
  }
  return headers;
}

/**
 * What both transports share: who the caller is (the same credentials as HTTP), re-checked per event; parse,
 * validation against the API schema, variables, rate limit and the authorization decision before a
 * subscription is planned and started.
 */
export function createSubscriptionPreparer(options: SubscriptionTransportOptions) {
  const recheckMs = options.recheckMs ?? 1_000;

  // Shared by every connection presenting the same credentials: 5,000 subscribers with one token cost one
  // verification per window, not 5,000.
  const checks = new Map<string, { at: number; result: Promise<Principal> }>();

  function callerFor(
    principal: Principal,
    headers: IncomingHttpHeaders,
    clientIp: string,
  ): SubscriptionCaller {
    const credentials = `${String(headers.authorization ?? '')}\n${String(headers['x-api-key'] ?? '')}`;
    const anonymous = principal.kind === 'anonymous';
    return {
      principal,
      clientIp,
      connection: { active: 0 },
      recheck() {
        // No credentials, nothing that can expire or be revoked.
        if (anonymous) return Promise.resolve(principal);
        const now = Date.now();
        let checked = checks.get(credentials);
        if (!checked || now - checked.at > recheckMs) {
          if (checks.size > 10_000) checks.clear();
          checked = { at: now, result: options.authenticator.authenticate(headers) };
          // A failure is re-thrown to every caller within the window, never remembered as a success.
          checked.result.catch(() => undefined);
          checks.set(credentials, checked);
        }
        return checked.result;
      },
    };
  }

  async function prepare(
    caller: SubscriptionCaller,
    request: { query: unknown; variables?: unknown; operationName?: unknown },
  ): Promise<{ args: ExecutionArgs & { contextValue: OperationContext } } | { errors: GraphQLError[] }> {
    const schema = options.engine.apiSchema();
    if (!schema)
      return { errors: [coded(SubscriptionCode.SUBGRAPH_UNAVAILABLE, 'No supergraph is loaded yet')] };
    if (typeof request.query !== 'string' || request.query.length === 0) {
      return { errors: [coded('BAD_REQUEST', 'A subscription needs a query')] };
    }
    let document: DocumentNode;
    try {
      document = parse(request.query, { maxTokens: 5_000 });
    } catch (error) {
      return { errors: [coded('GRAPHQL_PARSE_FAILED', (error as Error).message)] };
    }
    const validationErrors = validate(schema, document, [
      ...specifiedRules,
      ...(options.validationRules ?? []),
    ]);
    if (validationErrors.length > 0) {
      return {
        errors: validationErrors.map((error) => coded('GRAPHQL_VALIDATION_FAILED', error.message)),
      };
    }
    const operationName = typeof request.operationName === 'string' ? request.operationName : null;
    const operation = getOperationAST(document, operationName);
    if (!operation) return { errors: [coded('BAD_REQUEST', 'Name the operation to run (operationName)')] };
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      return {
        errors: [
          coded(SubscriptionCode.NOT_A_SUBSCRIPTION, 'Send queries and mutations over HTTP POST /graphql'),
        ],
      };
    }
    const coerced = getVariableValues(
      schema,
      operation.variableDefinitions ?? [],
      (request.variables ?? {}) as Record<string, unknown>,
    );
    if (coerced.errors) {
      return { errors: coerced.errors.map((error) => coded('BAD_USER_INPUT', error.message)) };
    }
    const { key, tier } = rateKey(caller.principal, caller.clientIp);
    const decision = await options.limiter.consume(key, tier, 1);
    if (!decision.allowed) {
      return {
        errors: [
          new GraphQLError(`Rate limit exceeded: retry in ${decision.retryAfterSeconds} s`, {
            extensions: { code: 'RATE_LIMITED', retryAfter: decision.retryAfterSeconds },
          }),
        ],
      };
    }
    const decided = options.decide({ schema, document, operationName, subject: subjectOf(caller.principal) });
    if (decided.refused) return { errors: decided.response.errors };
    return {
      args: {
        schema,
        document: decided.document,
        operationName,
        variableValues: coerced.coerced,
        contextValue: { caller, removals: decided.removals },
      },
    };
  }

  const start = (args: ExecutionArgs) => {
    const context = args.contextValue as OperationContext;
    return options.engine.subscribe({
      document: args.document,
      operationName: args.operationName ?? null,
      variables: args.variableValues ?? {},
      removals: context.removals,
      caller: context.caller,
    });
  };

  return { callerFor, prepare, start };
}

/**
 * graphql-ws on the gateway's /graphql (same port as HTTP). Credentials go in `connection_init`'s payload
 * (`{ "Authorization": "Bearer …" }` or `{ "X-API-Key": "…" }`); wrong ones close the socket with 4401
 * before any operation, a credential store that cannot be reached with 1013 (try again later).
 */
export async function createWebSocketTransport(
  options: SubscriptionTransportOptions & { maxPayloadBytes: number },
) {
  const [{ WebSocketServer }, { useServer }, { CloseCode }] = await Promise.all([
    import('ws'),
    import('graphql-ws/use/ws'),
    import('graphql-ws'),
  ]);
  const preparer = createSubscriptionPreparer(options);
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const callers = new WeakMap<object, SubscriptionCaller>();
  const cleanup = useServer(
    {
      schema: () => {
        const schema = options.engine.apiSchema();
        if (!schema) throw new Error('No supergraph is loaded yet');
        return schema;
      },
      onConnect: async (ctx) => {
        const headers = headersFromConnectionParams(ctx.connectionParams);
        const request = ctx.extra.request;
        try {
          const principal = await options.authenticator.authenticate(headers);
          callers.set(ctx, preparer.callerFor(principal, headers, request.socket.remoteAddress ?? 'unknown'));
          return true;
        } catch (error) {
          if (error instanceof AuthenticationError) {
            ctx.extra.socket.close(4401, `Unauthorized: ${error.publicMessage}`);
          } else if (error instanceof AuthenticationUnavailableError) {
            ctx.extra.socket.close(1013, 'Authentication is temporarily unavailable');
          } else {
            options.logger.error({ err: error }, 'subscription connection failed');
            ctx.extra.socket.close(CloseCode.InternalServerError, 'Internal server error');
          }
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const caller = callers.get(ctx);
        if (!caller) return [coded(SubscriptionCode.UNAUTHENTICATED, 'Connection not initialised')];
        const prepared = await preparer.prepare(caller, payload);
        return 'errors' in prepared ? prepared.errors : prepared.args;
      },
      subscribe: (args) => preparer.start(args),
      execute: () =>
        endedWith(SubscriptionCode.NOT_A_SUBSCRIPTION, 'Send queries and mutations over HTTP POST /graphql'),
    },
    server,
    12_000,
  );
  return {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      server.handleUpgrade(req, socket, head, (ws) => server.emit('connection', ws, req));
    },
    connections: () => server.clients.size,
    async close() {
      await cleanup.dispose();
      server.close();
    },
  };
}

/**
 * GraphQL over Server-Sent Events (graphql-sse, "distinct connections" mode): POST /graphql with
 * `Accept: text/event-stream` and the same headers as any HTTP request.
 */
export async function createSseTransport(options: SubscriptionTransportOptions) {
  const preparer = createSubscriptionPreparer(options);
  const callers = new WeakMap<IncomingMessage, SubscriptionCaller>();
  // graphql-sse loads on the first event-stream request, not at start-up.
  let handler: Promise<(req: IncomingMessage, res: ServerResponse) => Promise<void>> | undefined;
  const build = async () => {
    const { createHandler } = await import('graphql-sse/lib/use/http');
    return createHandler<OperationContext>({
      onSubscribe: async (req, params) => {
        const caller = callers.get(req.raw);
        if (!caller) return endedWith(SubscriptionCode.UNAUTHENTICATED, 'Not authenticated');
        const prepared = await preparer.prepare(caller, params);
        if ('errors' in prepared) return { errors: prepared.errors } as ExecutionResult;
        return prepared.args;
      },
      subscribe: (args) => preparer.start(args),
      execute: () =>
        endedWith(SubscriptionCode.NOT_A_SUBSCRIPTION, 'Send queries and mutations over HTTP POST /graphql'),
    });
  };
  return {
    /** The caller was authenticated by the /graphql route (a refused credential never gets here). */
    async handle(req: IncomingMessage, res: ServerResponse, principal: Principal) {
      callers.set(
        req,
        preparer.callerFor(principal, { ...req.headers }, req.socket.remoteAddress ?? 'unknown'),
      );
      handler ??= build();
      await (
        await handler
      )(req, res);
    },
  };
}
