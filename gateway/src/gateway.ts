import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createContentStore,
  createMetricsRegistry,
  currentRequestScope,
  ErrorCode,
  formatTraceparent,
  graphqlHandler,
  graphqlMetricsPlugin,
  resolveInternalAuthSecret,
  sendJson,
  startHttpService,
  type Cache,
  type ContentStore,
  type Logger,
  type Principal,
  type RequestIdentity,
  type RunningService,
} from '@symbeon/kernel';
import {
  AuthenticationError,
  AuthenticationUnavailableError,
  createAuthenticator,
} from './auth/authenticate.js';
import { createApiKeyClient } from './auth/api-key-client.js';
import { JWKS_PATH, jwksProxy } from './auth/jwks-proxy.js';
import { IPFS_PREFIX, ipfsRoute } from './ipfs-route.js';
import { admitByClientAddress } from './rate-limit/admit.js';
import { passThrough } from './pass-through.js';
import { createAuthzEnforcer } from './authz/enforcer.js';
import { gatewayPolicies, subjectOf, type GatewaySubject } from './authz/policies.js';
import { createRateLimiter, parseBudgets } from './rate-limit/limiter.js';
import { rateLimitPlugin } from './rate-limit/plugin.js';
import type { GatewayContext } from './context.js';
import { applyCors } from './cors.js';
import type { GatewayEnv } from './env.js';
import { createErrorFormatter } from './errors.js';
import { sandboxLandingPage } from './landing-page.js';
import { createGatewayMetrics } from './metrics.js';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-data-source.js';
import { createSubscriptionEngine } from './subscriptions/engine.js';
import { createSseTransport, createWebSocketTransport } from './subscriptions/transports.js';
import { supergraphFile } from './supergraph-file.js';

/** The largest evidence document a certification programme may accept (its `maxBytes` limit, 100 MiB). */
const MAX_EVIDENCE_UPLOAD_BYTES = 100 * 1024 * 1024;
/** Payment providers' webhook events are small JSON documents; anything larger is not one. */
const MAX_WEBHOOK_BYTES = 512 * 1024;
/** The headers Stripe and PayPal sign their webhook deliveries with; the payments subgraph verifies them. */
const STRIPE_WEBHOOK_HEADERS = ['stripe-signature'];
const PAYPAL_WEBHOOK_HEADERS = [
  'paypal-transmission-id',
  'paypal-transmission-time',
  'paypal-transmission-sig',
  'paypal-cert-url',
  'paypal-auth-algo',
];

export interface GatewayDeps {
  env: GatewayEnv;
  logger: Logger;
  /**
   * The Cache port in namespace `auth`, where identity records revoked sessions. In one process (the
   * stack) it must be the very instance identity writes to; across processes, Redis.
   */
  cache: Cache;
  /** Served at /ipfs/<cid>. Unset: created from the env (IPFS_API_URL, else DATA_DIR/ipfs) and closed on stop. */
  contentStore?: ContentStore;
}

export interface Gateway extends RunningService {
  /** Names and URLs of the subgraphs the current supergraph routes to. */
  subgraphs(): Array<{ name: string; url: string }>;
}

const JOIN_GRAPH = /@join__graph\(name:\s*"([^"]+)",\s*url:\s*"([^"]*)"\)/g;

export function subgraphsOf(supergraphSdl: string, overrides: Record<string, string>) {
  return [...supergraphSdl.matchAll(JOIN_GRAPH)].map(([, name, url]) => ({
    name: name!,
    url: overrides[name!.toLowerCase()] ?? url!,
  }));
}

/** 401 with a GraphQL body, before Apollo: RFC 6750's challenge so HTTP clients know to re-authenticate. */
function refuseCredentials(res: ServerResponse, identity: RequestIdentity, error: AuthenticationError) {
  sendJson(
    res,
    401,
    { errors: [{ message: error.publicMessage, extensions: { code: ErrorCode.UNAUTHENTICATED } }] },
    {
      'www-authenticate': `Bearer error="invalid_token", error_description="${error.publicMessage}"`,
      'x-request-id': identity.requestId,
      traceparent: formatTraceparent(identity.trace),
    },
  );
}

function authenticationUnavailable(res: ServerResponse, identity: RequestIdentity) {
  sendJson(
    res,
    503,
    {
      errors: [
        {
          message: 'Authentication is temporarily unavailable; retry shortly',
          extensions: { code: 'AUTHENTICATION_UNAVAILABLE', requestId: identity.requestId },
        },
      ],
    },
    {
      'retry-after': '5',
      'x-request-id': identity.requestId,
      traceparent: formatTraceparent(identity.trace),
    },
  );
}

export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const { env, logger } = deps;
  // Refuses to start (production without INTERNAL_AUTH_SECRET, or a short one) rather than serve errors.
  const internalAuthSecret = resolveInternalAuthSecret(env);
  const registry = createMetricsRegistry('gateway');
  const metrics = createGatewayMetrics(registry);
  const agent = createSubgraphAgent({
    connections: env.SUBGRAPH_CONNECTIONS,
    timeoutMs: env.SUBGRAPH_TIMEOUT_MS,
  });
  const dataSources = new Map<string, SubgraphDataSource>();
  // @authenticated / @requiresScopes / @policy: @apollo/gateway implements none of them.
  const enforcer = createAuthzEnforcer<GatewayContext, GatewaySubject>({
    mode: env.AUTHZ_MODE,
    policies: gatewayPolicies,
    subjectOf: (context) => subjectOf(context.principal),
    onUnknownPolicies: (names) =>
      logger.warn(
        { policies: names },
        'the supergraph names policies the gateway does not define: they deny',
      ),
  });
  const source = supergraphFile(env.SUPERGRAPH_PATH, {
    logger,
    metrics,
    onLoad: (sdl) => enforcer.setSupergraph(sdl),
  });
  const limiter = createRateLimiter({
    redisUrl: env.REDIS_URL,
    prefix: env.REDIS_PREFIX,
    windowSeconds: env.RATE_LIMIT_WINDOW,
    budgets: parseBudgets(env.RATE_LIMITS),
  });
  // @apollo/gateway 2.14 exports usage metrics to Apollo every hour and probes cloud metadata endpoints unless
  // this variable is set; it reads no other switch. Nothing leaves our network unless the operator opts in.
  if (!env.APOLLO_TELEMETRY) process.env.APOLLO_TELEMETRY_DISABLED = 'true';

  const gateway = new ApolloGateway({
    supergraphSdl: source.hook,
    logger,
    buildService: ({ name, url }) => {
      const target = env.subgraphUrls[name.toLowerCase()] ?? url;
      if (!target) throw new Error(`The supergraph gives no URL for subgraph "${name}"`);
      const dataSource = new SubgraphDataSource({
        name,
        url: target,
        agent,
        metrics,
        timeoutMs: env.SUBGRAPH_TIMEOUT_MS,
        internalAuthSecret,
      });
      dataSources.set(name, dataSource);
      return dataSource;
    },
  });

  // Federated subscriptions: @apollo/gateway plans them but refuses to run them (subscriptions/engine.ts).
  const [{ createClient }, { WebSocket }] = await Promise.all([import('graphql-ws'), import('ws')]);
  const subscriptions = createSubscriptionEngine({
    logger,
    internalAuthSecret,
    dataSources: () => Object.fromEntries(dataSources),
    subgraphUrlOverrides: env.subgraphUrls,
    limits: {
      perConnection: env.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      perPrincipal: env.MAX_SUBSCRIPTIONS_PER_CALLER,
      bufferedEvents: 1_000,
    },
    webSocketImpl: WebSocket,
    createClient,
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    try {
      subscriptions.setSupergraph(coreSupergraphSdl);
    } catch (error) {
      logger.error(
        { err: error },
        'subscriptions: the supergraph could not be planned; keeping the previous one',
      );
    }
  });

  const armor = new ApolloArmor({
    maxDepth: { n: env.MAX_QUERY_DEPTH },
    maxAliases: { n: env.MAX_QUERY_ALIASES },
    maxDirectives: { n: env.MAX_QUERY_DIRECTIVES },
    costLimit: { maxCost: env.MAX_QUERY_COST },
    // Token limits are enforced by graphql-js's own parser (parseOptions below), without a second parse.
    maxTokens: { enabled: false },
    // Field suggestions help developers; in production they would let anyone map a schema without introspection.
    blockFieldSuggestion: { enabled: !env.INTROSPECTION },
  }).protect();

  const apollo = new ApolloServer<GatewayContext>({
    gateway: enforcer.wrap(gateway),
    logger,
    introspection: env.INTROSPECTION,
    csrfPrevention: true,
    // The entry point owns shutdown (see the kernel's subgraph bootstrap).
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: env.MAX_QUERY_TOKENS },
    validationRules: armor.validationRules,
    formatError: createErrorFormatter(logger, () => currentRequestScope()?.requestId),
    plugins: [
      ...armor.plugins,
      graphqlMetricsPlugin<GatewayContext>(registry),
      // Per principal: the API key, else the user, else the client's address.
      rateLimitPlugin<GatewayContext>({
        limiter,
        keyOf: ({ principal, clientIp }) =>
          principal.kind === 'api-key'
            ? { key: `key:${principal.keyId}`, tier: principal.tier }
            : principal.kind === 'user'
              ? { key: `user:${principal.userId}`, tier: principal.tier }
              : { key: `ip:${clientIp}`, tier: 'ANONYMOUS' },
      }),
      env.SANDBOX
        ? sandboxLandingPage({
            initialDocument:
              '{\n  courses(first: 3) {\n    edges { node { title instructor { displayName } } }\n  }\n}\n',
          })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const subgraphs = () => subgraphsOf(source.current(), env.subgraphUrls);
  // Identity's origin, recomputed only when the supergraph text changes (not per request).
  let identityFor: { sdl: string; origin: URL | undefined } | undefined;
  const identityOrigin = (): URL | undefined => {
    const sdl = source.current();
    if (identityFor?.sdl !== sdl) {
      const identity = subgraphs().find(({ name }) => name.toLowerCase() === 'identity');
      identityFor = { sdl, origin: identity ? new URL(identity.url) : undefined };
    }
    return identityFor.origin;
  };
  // Certification's origin, for the evidence upload URLs it hands out (PUT /uploads/<token>).
  let certificationFor: { sdl: string; origin: URL | undefined } | undefined;
  const certificationOrigin = (): URL | undefined => {
    const sdl = source.current();
    if (certificationFor?.sdl !== sdl) {
      const found = subgraphs().find(({ name }) => name.toLowerCase() === 'certification');
      certificationFor = { sdl, origin: found ? new URL(found.url) : undefined };
    }
    return certificationFor.origin;
  };
  // Payments' origin, for the providers' webhooks (POST /webhooks/stripe, /webhooks/paypal) and invoice PDFs.
  let paymentsFor: { sdl: string; origin: URL | undefined } | undefined;
  const paymentsOrigin = (): URL | undefined => {
    const sdl = source.current();
    if (paymentsFor?.sdl !== sdl) {
      const found = subgraphs().find(({ name }) => name.toLowerCase() === 'payments');
      paymentsFor = { sdl, origin: found ? new URL(found.url) : undefined };
    }
    return paymentsFor.origin;
  };
  const identityJwks = () => {
    const origin = identityOrigin();
    return origin ? new URL(JWKS_PATH, origin) : undefined;
  };
  const configuredJwks = env.AUTH_JWKS_URL ? new URL(env.AUTH_JWKS_URL) : undefined;
  const authenticator = createAuthenticator({
    jwksUrl: () => configuredJwks ?? identityJwks(),
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    cache: deps.cache,
    verifyApiKey: createApiKeyClient({ identityOrigin, internalAuthSecret }),
  });

  const transportOptions = {
    engine: subscriptions,
    authenticator,
    decide: enforcer.decide,
    limiter,
    logger,
    validationRules: armor.validationRules,
  };
  const webSockets = await createWebSocketTransport({
    ...transportOptions,
    maxPayloadBytes: env.MAX_BODY_BYTES,
  });
  const serverSentEvents = await createSseTransport(transportOptions);

  const corsOrigins = new Set(env.CORS_ORIGINS);
  // Set by the route once the caller is authenticated; read by Apollo's context for the same request.
  const principals = new WeakMap<IncomingMessage, Principal>();
  const handle = graphqlHandler(apollo, {
    bodyLimitBytes: env.MAX_BODY_BYTES,
    context: async (req, identity) => {
      const principal = principals.get(req);
      if (!principal) throw new Error('GraphQL request reached Apollo unauthenticated');
      return {
        requestId: identity.requestId,
        trace: identity.trace,
        clientIp: req.socket.remoteAddress ?? 'unknown',
        principal,
      };
    },
  });

  const contentStore = deps.contentStore ?? (await createContentStore(env));

  const service = await startHttpService({
    name: 'gateway',
    port: env.PORT,
    host: env.GATEWAY_HOST,
    logger,
    metrics: registry,
    drainTimeoutMs: 10_000,
    ready: async () => {
      const failures: string[] = [];
      await Promise.all(
        subgraphs().map(async ({ name }) => {
          const dataSource = dataSources.get(name);
          try {
            if (!dataSource) throw new Error('not loaded');
            await dataSource.check();
          } catch (error) {
            failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
          }
        }),
      );
      if (failures.length > 0) throw new Error(`subgraphs unreachable: ${failures.sort().join('; ')}`);
    },
    routes: {
      '/graphql': async (req, res, identity) => {
        if (applyCors(req, res, corsOrigins)) return;
        // Before Apollo: a bad token costs no body parsing, validation or planning.
        let principal: Principal;
        try {
          principal = await authenticator.authenticate(req.headers);
        } catch (error) {
          if (error instanceof AuthenticationError) {
            metrics.authentications.inc({ outcome: error.reason });
            return refuseCredentials(res, identity, error);
          }
          if (error instanceof AuthenticationUnavailableError) {
            metrics.authentications.inc({ outcome: 'unavailable' });
            logger.error({ err: error }, 'authentication unavailable');
            return authenticationUnavailable(res, identity);
          }
          throw error;
        }
        metrics.authentications.inc({ outcome: principal.kind });
        // GraphQL over SSE: the same endpoint, asked for an event stream.
        if ((req.headers.accept ?? '').includes('text/event-stream')) {
          return serverSentEvents.handle(req, res, principal);
        }
        principals.set(req, principal);
        await handle(req, res, identity);
      },
      [JWKS_PATH]: jwksProxy({ upstream: identityJwks }),
      // Payment providers' webhooks: the body passes byte for byte (signatures cover the exact bytes) with the
      // providers' signature headers; payments verifies them. Counted per client address like /auth/.
      '/webhooks/stripe': passThrough({
        upstream: paymentsOrigin,
        methods: ['POST'],
        extraRequestHeaders: STRIPE_WEBHOOK_HEADERS,
        maxBodyBytes: MAX_WEBHOOK_BYTES,
        admit: admitByClientAddress(limiter),
      }),
      '/webhooks/paypal': passThrough({
        upstream: paymentsOrigin,
        methods: ['POST'],
        extraRequestHeaders: PAYPAL_WEBHOOK_HEADERS,
        maxBodyBytes: MAX_WEBHOOK_BYTES,
        admit: admitByClientAddress(limiter),
      }),
    },
    prefixRoutes: {
      // Files from the content store; counted per client address like /auth/.
      [IPFS_PREFIX]: ipfsRoute({
        store: contentStore,
        maxServeBytes: env.IPFS_MAX_SERVE_BYTES,
        logger,
        admit: admitByClientAddress(limiter),
      }),
      // OIDC sign-in: start, the provider's callback, the provider list and the completion page.
      '/auth/': passThrough({
        upstream: identityOrigin,
        // Each request counts against the caller's address, like an anonymous GraphQL request.
        admit: admitByClientAddress(limiter),
      }),
      // Evidence uploads: the URL's token is the credential (no headers of the caller's pass); bodies up to
      // the largest evidence a programme may accept, counted per client address like /auth/.
      // Certificate verification pages (Certificate.verificationUrl, its QR code): public, no credentials
      // cross; each runs chain reads, so counted per client address like /auth/.
      '/verify/': passThrough({
        upstream: certificationOrigin,
        methods: ['GET', 'HEAD'],
        admit: admitByClientAddress(limiter),
      }),
      // Invoice PDFs: the signed, short-lived link payments hands its buyer (Invoice.pdfUrl) is the credential;
      // counted per client address like /auth/.
      '/invoices/': passThrough({
        upstream: paymentsOrigin,
        methods: ['GET', 'HEAD'],
        admit: admitByClientAddress(limiter),
      }),
      '/uploads/': passThrough({
        upstream: certificationOrigin,
        methods: ['PUT'],
        maxBodyBytes: MAX_EVIDENCE_UPLOAD_BYTES,
        admit: admitByClientAddress(limiter),
      }),
    },
    onUpgrade: (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== '/graphql') return void socket.destroy();
      webSockets.handleUpgrade(req, socket, head);
    },
    onStop: async () => {
      subscriptions.close();
      await webSockets.close();
      await apollo.stop();
      await agent.close();
      await limiter.close();
      if (!deps.contentStore) await contentStore.close();
    },
  });
  return Object.assign(service, { subgraphs });
}
