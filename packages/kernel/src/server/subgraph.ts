import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import {
  createInternalTokenVerifier,
  INTERNAL_TOKEN_HEADER,
  InternalTokenError,
} from '../auth/internal-token.js';
import type { Principal } from '../auth/principal.js';
import { DomainError, ErrorCode } from '../errors.js';
import { DateTimeScalar } from '../graphql/scalars.js';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import {
  GraphQLScalarType,
  Kind,
  parse,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import type { Logger } from 'pino';
import type { WebSocketServer } from 'ws';
import { graphqlHandler, requestIdentity, sendJson, type RequestIdentity } from './http.js';
import { createMetricsRegistry, graphqlMetricsPlugin } from './metrics.js';
import { startHttpService, type RouteHandler, type RunningService } from './service.js';

export type { GraphQLResolverMap };

/**
 * A subgraph's SDL is the `.graphql` files under its `src/` (each module's beside its resolvers), joined in
 * path order. `npm run compose` writes the same text to the subgraph's `schema.graphql` for composition, so
 * what is served and what is composed cannot differ.
 */
export function loadSubgraphSdl(srcDir: string): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.graphql')) files.push(full);
    }
  };
  walk(srcDir);
  if (files.length === 0) throw new Error(`No .graphql files under ${srcDir}`);
  return files.map((file) => readFileSync(file, 'utf8').trim()).join('\n\n') + '\n';
}

export function loadSubgraphTypeDefs(srcDir: string): DocumentNode {
  return parse(loadSubgraphSdl(srcDir));
}

/** What a subgraph learns about one request: its headers (HTTP) or connection params (WebSocket). */
export interface ContextInput {
  /** Without the internal token: identity comes from `principal`, never from a header. */
  headers: Readonly<Record<string, string | undefined>>;
  identity: RequestIdentity;
  /** The caller, as the gateway vouched for it in the verified internal token. */
  principal: Principal;
}

/** What a subgraph answers, before Apollo runs, to a GraphQL request that did not come through the gateway. */
export const NOT_FROM_GATEWAY = 'This service only accepts requests from the Symbeon gateway';

export interface SubgraphOptions<TContext extends BaseContext> {
  name: string;
  typeDefs: DocumentNode;
  /** One map per module; merged by type. The DateTime scalar is provided when the SDL declares it. */
  resolvers: GraphQLResolverMap<TContext>[];
  /** Wraps the built schema (e.g. graphql-shield); must keep the federation fields intact. */
  transformSchema?: (schema: GraphQLSchema) => GraphQLSchema;
  port: number;
  host: string;
  logger: Logger;
  ready: () => Promise<void>;
  context: (input: ContextInput) => Promise<TContext>;
  /**
   * INTERNAL_AUTH_SECRET (see resolveInternalAuthSecret): every GraphQL request, over HTTP or graphql-ws,
   * must carry a token signed with it; /health, /ready and /metrics stay open.
   */
  internalAuthSecret: string;
  /** Serve graphql-ws on /graphql for the subscriptions the schema declares. */
  subscriptions?: boolean;
  routes?: Record<string, RouteHandler>;
  prefixRoutes?: Record<string, RouteHandler>;
  /** Closes what the subgraph owns (db, consumers...) after HTTP has stopped. */
  onStop?: () => Promise<void>;
}

function mergeResolvers<TContext>(options: {
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext>[];
}): GraphQLResolverMap<TContext> {
  const merged: Record<string, Record<string, unknown>> = {};
  const declaresDateTime = options.typeDefs.definitions.some(
    (definition) => definition.kind === Kind.SCALAR_TYPE_DEFINITION && definition.name.value === 'DateTime',
  );
  const maps: unknown[] = declaresDateTime
    ? [{ DateTime: DateTimeScalar }, ...options.resolvers]
    : options.resolvers;
  for (const map of maps as Record<string, unknown>[]) {
    for (const [type, fields] of Object.entries(map)) {
      if (fields instanceof GraphQLScalarType) {
        (merged as Record<string, unknown>)[type] = fields;
      } else {
        merged[type] = { ...merged[type], ...(fields as Record<string, unknown>) };
      }
    }
  }
  return merged as GraphQLResolverMap<TContext>;
}

function headerRecord(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (key === INTERNAL_TOKEN_HEADER) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function refuseNotFromGateway(res: ServerResponse, identity: RequestIdentity) {
  sendJson(
    res,
    401,
    { errors: [{ message: NOT_FROM_GATEWAY, extensions: { code: ErrorCode.UNAUTHENTICATED } }] },
    { 'x-request-id': identity.requestId },
  );
}

export async function startSubgraph<TContext extends BaseContext>(
  options: SubgraphOptions<TContext>,
): Promise<RunningService> {
  const { logger } = options;
  // Throws at start-up on a missing or short secret rather than refusing every request later.
  const verifyInternalToken = createInternalTokenVerifier(options.internalAuthSecret);
  const verifiedPrincipal = async (token: unknown): Promise<Principal | undefined> => {
    try {
      return (await verifyInternalToken(typeof token === 'string' ? token : undefined)).principal;
    } catch (error) {
      if (!(error instanceof InternalTokenError)) throw error;
      // debug, not warn: anyone who can reach the port can make this line, as often as they like.
      logger.debug(
        { reason: error.reason, detail: error.message },
        'refused a request without a valid internal token',
      );
      return undefined;
    }
  };
  const metrics = createMetricsRegistry(options.name);
  let schema = buildSubgraphSchema([{ typeDefs: options.typeDefs, resolvers: mergeResolvers(options) }]);
  if (options.transformSchema) schema = options.transformSchema(schema);

  const apollo = new ApolloServer<TContext>({
    schema,
    // The gateway needs `_service { sdl }`; subgraphs are not exposed to the public.
    introspection: true,
    csrfPrevention: true,
    // Shutdown belongs to the service's entry point: Apollo's own handler would re-send the signal and kill
    // the process before the database and the event transport are closed.
    stopOnTerminationSignals: false,
    // Inline traces (ftv1) only serve Apollo Studio reporting, which this platform does not use.
    plugins: [graphqlMetricsPlugin<TContext>(metrics), ApolloServerPluginInlineTraceDisabled()],
    logger,
    formatError(formatted: GraphQLFormattedError, error: unknown) {
      // Managers signal expected failures with DomainError; in a query they surface as coded errors.
      const original = unwrapResolverError(error);
      if (original instanceof DomainError) {
        return {
          ...formatted,
          message: original.message,
          extensions: { ...formatted.extensions, code: original.code, field: original.field ?? null },
        };
      }
      const code = formatted.extensions?.code;
      if (!code || code === 'INTERNAL_SERVER_ERROR') {
        logger.error({ err: error, path: formatted.path }, 'unexpected resolver error');
      }
      return formatted;
    },
  });
  await apollo.start();

  // The route verifies the token before Apollo sees the request; the context reads what it found.
  const principals = new WeakMap<IncomingMessage, Principal>();
  const handle = graphqlHandler(apollo, {
    context: (req, identity) => {
      const principal = principals.get(req);
      if (!principal) throw new Error('GraphQL request reached Apollo without a verified internal token');
      return options.context({ headers: headerRecord(req), identity, principal });
    },
  });
  const graphqlRoute = async (req: IncomingMessage, res: ServerResponse, identity: RequestIdentity) => {
    const principal = await verifiedPrincipal(req.headers[INTERNAL_TOKEN_HEADER]);
    if (!principal) return refuseNotFromGateway(res, identity);
    principals.set(req, principal);
    await handle(req, res, identity);
  };

  let wsServer: WebSocketServer | undefined;
  let disposeWs: (() => void | Promise<void>) | undefined;
  if (options.subscriptions) {
    // Loaded only by subgraphs that declare subscriptions.
    const [{ WebSocketServer }, { useServer }] = await Promise.all([
      import('ws'),
      import('graphql-ws/use/ws'),
    ]);
    wsServer = new WebSocketServer({ noServer: true });
    // Keyed by graphql-ws's per-connection context object: verified once, at connection_init.
    const connectionPrincipals = new WeakMap<object, Principal>();
    const cleanup = useServer<Record<string, unknown>>(
      {
        schema,
        // false closes the socket with 4403 Forbidden before any operation is accepted.
        onConnect: async (ctx) => {
          const principal = await verifiedPrincipal(ctx.connectionParams?.[INTERNAL_TOKEN_HEADER]);
          if (!principal) return false;
          connectionPrincipals.set(ctx, principal);
          return true;
        },
        context: async (ctx) => {
          const principal = connectionPrincipals.get(ctx);
          if (!principal) throw new Error('subscription without a verified internal token');
          const params = ctx.connectionParams ?? {};
          const headers: Record<string, string | undefined> = {};
          for (const [key, value] of Object.entries(params)) {
            if (typeof value === 'string' && key.toLowerCase() !== INTERNAL_TOKEN_HEADER)
              headers[key.toLowerCase()] = value;
          }
          return options.context({ headers, identity: requestIdentity(ctx.extra.request), principal });
        },
      },
      wsServer,
    );
    disposeWs = () => cleanup.dispose();
  }

  return startHttpService({
    name: options.name,
    port: options.port,
    host: options.host,
    logger,
    metrics,
    ready: options.ready,
    // Last, so no route a subgraph adds can shadow the checked one.
    routes: { ...options.routes, '/graphql': graphqlRoute },
    ...(options.prefixRoutes ? { prefixRoutes: options.prefixRoutes } : {}),
    ...(wsServer
      ? {
          onUpgrade: (req, socket, head) => {
            if ((req.url ?? '').split('?')[0] !== '/graphql') return void socket.destroy();
            wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
          },
        }
      : {}),
    onStop: async () => {
      await disposeWs?.();
      await apollo.stop();
      await options.onStop?.();
    },
  });
}
