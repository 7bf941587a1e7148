import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createCache,
  createSecretBox,
  loadSubgraphTypeDefs,
  openDatabase,
  resolveInternalAuthSecret,
  startOutboxRelay,
  applyOwnershipRules,
  startSubgraph,
  type Cache,
  type EventTransport,
  type Logger,
  type RunningService,
} from '@symbeon/kernel';
import { createContext, principalFrom, type IdentityModules } from './context.js';
import * as schema from './db/schema.js';
import { identityPermissions } from './permissions.js';
import { identitySecretKeys, type IdentityEnv } from './env.js';
import { createSessionsManager, type SessionsManager } from './modules/sessions/sessions-manager.js';
import { sessionsResolvers } from './modules/sessions/sessions-resolvers.js';
import { createSessionsStorage } from './modules/sessions/sessions-storage.js';
import { JWKS_PATH, jwksRoute } from './modules/tokens/jwks-route.js';
import { createTokenManager, type TokenManager } from './modules/tokens/tokens-manager.js';
import { createTokensStorage } from './modules/tokens/tokens-storage.js';
import { createApiKeysManager } from './modules/api-keys/api-keys-manager.js';
import { apiKeysResolvers } from './modules/api-keys/api-keys-resolvers.js';
import { API_KEY_VERIFY_PATH, apiKeyVerifyRoute } from './modules/api-keys/api-keys-route.js';
import { createApiKeysStorage } from './modules/api-keys/api-keys-storage.js';
import { createOidcClient } from './modules/oidc/oidc-client.js';
import { createOidcManager } from './modules/oidc/oidc-manager.js';
import { oidcResolvers } from './modules/oidc/oidc-resolvers.js';
import {
  OIDC_COMPLETE_PATH,
  OIDC_PREFIX,
  OIDC_PROVIDERS_PATH,
  oidcCompleteRoute,
  oidcFlowRoute,
  oidcProvidersRoute,
} from './modules/oidc/oidc-routes.js';
import { createOidcStorage } from './modules/oidc/oidc-storage.js';
import { createRolesManager } from './modules/roles/roles-manager.js';
import { rolesResolvers } from './modules/roles/roles-resolvers.js';
import { createRolesStorage } from './modules/roles/roles-storage.js';
import { scopesForRoles } from './modules/tokens/scopes.js';
import { createSiweVerifier } from './modules/wallets/siwe-verifier.js';
import { createWalletsManager } from './modules/wallets/wallets-manager.js';
import { walletsResolvers } from './modules/wallets/wallets-resolvers.js';
import { createWalletsStorage } from './modules/wallets/wallets-storage.js';
import { createTotpManager } from './modules/totp/totp-manager.js';
import { totpResolvers } from './modules/totp/totp-resolvers.js';
import { createTotpStorage } from './modules/totp/totp-storage.js';
import { createUsersManager } from './modules/users/users-manager.js';
import { usersResolvers } from './modules/users/users-resolvers.js';
import { createUsersStorage } from './modules/users/users-storage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const identityMigrations = path.resolve(here, '../drizzle');

export interface IdentityDeps {
  env: IdentityEnv;
  logger: Logger;
  transport: EventTransport;
  /**
   * Where revoked sessions are announced (`createCache(env, 'auth')`); the gateway must read the same one.
   * Without it the service opens its own with createCache: shared through Redis in the services profile,
   * but private to this service in the embedded one, where the stack passes the shared instance.
   */
  cache?: Cache;
  /** Sees every SQL statement (tests count them). */
  onQuery?: (query: string, params: unknown[]) => void;
}

export interface IdentityService extends RunningService {
  users: ReturnType<typeof createUsersManager>;
  roles: ReturnType<typeof createRolesManager>;
  wallets: ReturnType<typeof createWalletsManager>;
  tokens: TokenManager;
  sessions: SessionsManager;
}

export async function startIdentity(deps: IdentityDeps): Promise<IdentityService> {
  const { env, logger } = deps;
  // First: a production start without SECRETS_KEY fails before anything is opened.
  const secretKeys = identitySecretKeys(env);
  const box = createSecretBox(secretKeys.current, secretKeys.previous);
  const database = await openDatabase({
    schemaName: 'identity',
    migrationsFolder: identityMigrations,
    schema,
    databaseUrl: env.IDENTITY_DATABASE_URL ?? env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    ...(deps.onQuery ? { onQuery: deps.onQuery } : {}),
  });
  const cache = deps.cache ?? (await createCache(env, 'auth'));
  const usersStorage = createUsersStorage(database.db);
  const users = createUsersManager(usersStorage);
  const tokens = createTokenManager({
    storage: createTokensStorage(database.db),
    box,
    logger,
    config: {
      issuer: env.AUTH_ISSUER,
      audience: env.AUTH_AUDIENCE,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL,
      keyPublishLeadSeconds: env.KEY_PUBLISH_LEAD,
      keyRotationIntervalSeconds: env.KEY_ROTATION_INTERVAL,
    },
  });
  // A key signs before the first request; then every replica keeps the schedule.
  await tokens.rotateKeys();
  const stopRotation = tokens.startKeyRotation();
  const sessionsStorage = createSessionsStorage(database.db);
  const sessions = createSessionsManager({
    storage: sessionsStorage,
    tokens,
    cache,
    logger,
    config: { sessionTtlSeconds: env.SESSION_TTL },
  });
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  const roles = createRolesManager(createRolesStorage(database.db));
  const provider = env.CHAIN_RPC_URL
    ? new (await import('ethers')).JsonRpcProvider(env.CHAIN_RPC_URL, undefined, { staticNetwork: true })
    : undefined;
  const walletsStorage = createWalletsStorage(database.db);
  const wallets = createWalletsManager(
    createSiweVerifier(cache, {
      domains: env.SIWE_DOMAINS,
      uris: env.SIWE_URIS,
      chainIds: env.SIWE_CHAIN_IDS,
      maxAgeMs: env.SIWE_MAX_AGE * 1000,
      skewMs: 60_000,
      provider,
    }),
    walletsStorage,
    users,
  );
  const apiKeys = createApiKeysManager(createApiKeysStorage(database.db), async (userId) => {
    if (!(await users.findById(userId))) return undefined;
    const held = await roles.rolesOf(userId);
    return { userId, roles: held, scopes: scopesForRoles(held) };
  });
  if (env.BOOTSTRAP_ADMIN_ADDRESS) {
    const admin = await wallets.ensureUserFor(env.BOOTSTRAP_ADMIN_ADDRESS, {
      handle: 'admin',
      displayName: 'Administrator',
    });
    await roles.bootstrap(admin.id, ['ADMIN', 'ISSUER'], 'BOOTSTRAP_ADMIN_ADDRESS');
  }
  const totp = createTotpManager({ storage: createTotpStorage(database.db), box, cache, users });
  const oidcStorage = createOidcStorage(database.db);
  const oidc = createOidcManager({
    client: createOidcClient({
      providers: env.OIDC_PROVIDERS,
      production: env.NODE_ENV === 'production',
      logger,
    }),
    storage: oidcStorage,
    users,
    cache,
    box,
    logger,
    config: { redirectBase: env.OIDC_REDIRECT_BASE, returnOrigins: env.OIDC_RETURN_ORIGINS },
  });
  const internalAuthSecret = resolveInternalAuthSecret(env);
  const modules: IdentityModules = {
    logger,
    usersStorage,
    users,
    sessionsStorage,
    sessions,
    walletsStorage,
    wallets,
    roles,
    apiKeys,
    totp,
    oidcStorage,
    oidc,
  };

  const service = await startSubgraph({
    name: 'identity',
    typeDefs: loadSubgraphTypeDefs(here),
    transformSchema: (built) => applyOwnershipRules(built, identityPermissions),
    resolvers: [
      usersResolvers,
      sessionsResolvers,
      walletsResolvers,
      rolesResolvers,
      apiKeysResolvers,
      totpResolvers,
      oidcResolvers,
    ],
    port: env.IDENTITY_PORT,
    host: env.IDENTITY_HOST,
    logger,
    ready: () => database.ping(),
    internalAuthSecret,
    context: async ({ identity, principal, headers }) =>
      createContext(modules, {
        requestId: identity.requestId,
        principal: principalFrom(principal),
        userAgent: headers['user-agent'],
      }),
    routes: {
      [JWKS_PATH]: jwksRoute(tokens),
      [API_KEY_VERIFY_PATH]: apiKeyVerifyRoute(internalAuthSecret, apiKeys, roles),
      [OIDC_PROVIDERS_PATH]: oidcProvidersRoute(oidc),
      [OIDC_COMPLETE_PATH]: oidcCompleteRoute(),
    },
    prefixRoutes: {
      [OIDC_PREFIX]: oidcFlowRoute(oidc, { secureCookies: env.OIDC_REDIRECT_BASE.startsWith('https:') }),
    },
    onStop: async () => {
      stopRotation();
      provider?.destroy();
      await relay.close();
      await database.close();
      if (!deps.cache) await cache.close();
    },
  });
  return Object.assign(service, { users, tokens, sessions, roles, wallets });
}
