import path from 'node:path';
import { z } from 'zod';
import {
  commonEnvShape,
  contentStoreEnvShape,
  EnvError,
  envField,
  parseEnv,
  pathFrom,
  repositoryRoot,
} from '@symbeon/kernel';

/** Every variable the gateway reads. The only reader of process.env for the gateway. */
export const gatewayEnvShape = {
  NODE_ENV: envField.nodeEnv(),
  LOG_LEVEL: envField.logLevel(),
  PORT: envField.port(8000),
  /** The gateway is the public edge; bind 0.0.0.0 in containers. */
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  /** Any composed supergraph; reloaded when the file changes. */
  SUPERGRAPH_PATH: pathFrom(path.join(repositoryRoot, 'schema', 'supergraph.graphql')),
  /** Origins allowed to call from browsers (CORS), comma-separated. */
  CORS_ORIGINS: envField.list('http://localhost:8000,http://127.0.0.1:8000,http://localhost:5173'),
  /** Introspection; defaults to on outside production. */
  INTROSPECTION: envField.optionalBool(),
  /** Apollo Sandbox at GET /graphql; defaults to on outside production. */
  SANDBOX: envField.optionalBool(),
  MAX_QUERY_DEPTH: z.coerce.number().int().min(1).default(15),
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(30),
  MAX_QUERY_TOKENS: z.coerce.number().int().min(100).default(5000),
  MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  MAX_QUERY_COST: z.coerce.number().int().min(1).default(20_000),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Let @apollo/gateway send its anonymous usage telemetry to Apollo (off by default). */
  APOLLO_TELEMETRY: envField.bool(false),
  /** Per subgraph request: connect + headers + body. */
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Keep-alive connections per subgraph origin. */
  SUBGRAPH_CONNECTIONS: z.coerce.number().int().min(1).default(64),
  /** Signs the internal tokens subgraphs require; the same value as theirs. Required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
  /** Where the embedded profile keeps its generated secrets (INTERNAL_AUTH_SECRET when unset). */
  DATA_DIR: commonEnvShape.DATA_DIR,
  /** Redis, for the revoked-session list identity writes; unset: in-process (one-process stack only). */
  REDIS_URL: commonEnvShape.REDIS_URL,
  REDIS_PREFIX: commonEnvShape.REDIS_PREFIX,
  /** Kubo's RPC API for /ipfs/<cid> (services profile). Unset: the embedded store in DATA_DIR/ipfs. */
  IPFS_API_URL: contentStoreEnvShape.IPFS_API_URL,
  /** Largest file /ipfs/<cid> serves, in bytes (larger ones: 404 CONTENT_TOO_LARGE). */
  IPFS_MAX_SERVE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(50 * 1024 * 1024),
  /** Identity's JWKS for access tokens. Unset: the identity subgraph's origin + /.well-known/jwks.json. */
  AUTH_JWKS_URL: envField.optionalUrl(),
  /** `iss` every access token must carry: identity's public issuer (the gateway's public origin). */
  AUTH_ISSUER: z.string().min(1).default('http://localhost:8000'),
  /** `aud` every access token must carry. */
  AUTH_AUDIENCE: z.string().min(1).default('symbeon-api'),
  /**
   * Unauthorized fields: `filter` (default) answers them null with UNAUTHORIZED_FIELD_OR_TYPE errors;
   * `reject` refuses the whole operation.
   */
  AUTHZ_MODE: z.enum(['filter', 'reject']).default('filter'),
  /** Open subscriptions one WebSocket connection may hold. */
  MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(25),
  /** Open subscriptions one caller (user, API key, else client address) may hold on this gateway. */
  MAX_SUBSCRIPTIONS_PER_CALLER: z.coerce.number().int().min(1).default(100),
  /** Rate-limit window, seconds. */
  RATE_LIMIT_WINDOW: z.coerce.number().int().min(1).default(60),
  /** Budgets per tier and window, `TIER:requests/cost` comma-separated (defaults in the README). */
  RATE_LIMITS: z
    .string()
    .optional()
    .refine(
      (value) =>
        !value ||
        value.split(',').every((part) => /^(ANONYMOUS|FREE|PRO|ENTERPRISE):\d+\/\d+$/.test(part.trim())),
      'must be TIER:requests/cost, comma-separated (tiers: ANONYMOUS, FREE, PRO, ENTERPRISE)',
    ),
};

export type GatewayEnv = ReturnType<typeof parseGatewayEnv> & {
  /** SUBGRAPH_URL_<NAME>: where to reach subgraph <name>, overriding the supergraph's routing URL. */
  subgraphUrls: Record<string, string>;
};

export function parseGatewayEnv(source: Record<string, string | undefined> = process.env) {
  const env = parseEnv(gatewayEnvShape, source);
  const production = env.NODE_ENV === 'production';
  const subgraphUrls: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    const match = /^SUBGRAPH_URL_([A-Z0-9_]+)$/.exec(key);
    if (!match || !value) continue;
    if (!z.url().safeParse(value).success) problems.push(`${key}: must be a URL`);
    subgraphUrls[match[1]!.toLowerCase()] = value;
  }
  // Checked here too (resolveInternalAuthSecret refuses it at start) so it is reported with the rest.
  if (production && !env.INTERNAL_AUTH_SECRET) {
    problems.push(
      'INTERNAL_AUTH_SECRET: required when NODE_ENV=production (the same value as the subgraphs)',
    );
  }
  if (problems.length > 0) throw new EnvError(problems);
  return {
    ...env,
    INTROSPECTION: env.INTROSPECTION ?? !production,
    SANDBOX: env.SANDBOX ?? !production,
    subgraphUrls,
  };
}
