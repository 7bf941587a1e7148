import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  createMetricsRegistry,
  currentRequestScope,
  graphqlHandler,
  graphqlMetricsPlugin,
  startHttpService,
  type Logger,
  type RunningService,
} from '@symbeon/kernel';
import type { GatewayContext } from './context.js';
import { applyCors } from './cors.js';
import type { GatewayEnv } from './env.js';
import { createErrorFormatter } from './errors.js';
import { sandboxLandingPage } from './landing-page.js';
import { createGatewayMetrics } from './metrics.js';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-data-source.js';
import { supergraphFile } from './supergraph-file.js';

export interface GatewayDeps {
  env: GatewayEnv;
  logger: Logger;
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

export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const { env, logger } = deps;
  const registry = createMetricsRegistry('gateway');
  const metrics = createGatewayMetrics(registry);
  const agent = createSubgraphAgent({
    connections: env.SUBGRAPH_CONNECTIONS,
    timeoutMs: env.SUBGRAPH_TIMEOUT_MS,
  });
  const dataSources = new Map<string, SubgraphDataSource>();
  const source = supergraphFile(env.SUPERGRAPH_PATH, { logger, metrics });
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
      });
      dataSources.set(name, dataSource);
      return dataSource;
    },
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
    gateway,
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
      env.SANDBOX
        ? sandboxLandingPage({
            initialDocument:
              '{\n  courses(first: 3) {\n    edges { node { title instructor { displayName } } }\n  }\n}\n',
          })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const corsOrigins = new Set(env.CORS_ORIGINS);
  const handle = graphqlHandler(apollo, {
    bodyLimitBytes: env.MAX_BODY_BYTES,
    context: async (req, identity) => ({
      requestId: identity.requestId,
      trace: identity.trace,
      clientIp: req.socket.remoteAddress ?? 'unknown',
    }),
  });

  const subgraphs = () => subgraphsOf(source.current(), env.subgraphUrls);

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
        await handle(req, res, identity);
      },
    },
    onStop: async () => {
      await apollo.stop();
      await agent.close();
    },
  });
  return Object.assign(service, { subgraphs });
}
