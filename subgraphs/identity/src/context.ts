import { DomainError, ErrorCode, type Logger, type Principal as KernelPrincipal } from '@symbeon/kernel';
import type { OidcManager } from './modules/oidc/oidc-manager.js';
import { createOidcLoaders, type OidcStorage } from './modules/oidc/oidc-storage.js';
import type { ApiKeysManager } from './modules/api-keys/api-keys-manager.js';
import type { RolesManager } from './modules/roles/roles-manager.js';
import { createSessionLoaders, type SessionsStorage } from './modules/sessions/sessions-storage.js';
import type { WalletsManager } from './modules/wallets/wallets-manager.js';
import { createWalletLoaders, type WalletsStorage } from './modules/wallets/wallets-storage.js';
import type { SessionsManager } from './modules/sessions/sessions-manager.js';
import { createUserLoaders, type UsersStorage } from './modules/users/users-storage.js';
import type { UsersManager } from './modules/users/users-manager.js';
import type { TotpManager } from './modules/totp/totp-manager.js';

/** The signed-in caller, as the gateway vouched for it in its internal token. Absent for anonymous callers. */
export interface Principal {
  userId: string;
  /** The session the access token belongs to; absent for API keys. */
  sessionId?: string;
  roles: string[];
  scopes: string[];
}

/** The kernel's verified principal (from the internal token), in the shape identity's managers use. */
export function principalFrom(verified: KernelPrincipal): Principal | undefined {
  if (verified.kind === 'anonymous') return undefined;
  return {
    userId: verified.userId,
    ...(verified.kind === 'user' ? { sessionId: verified.sessionId } : {}),
    roles: verified.roles,
    scopes: verified.scopes,
  };
}

/** What every resolver of one request sees. Loaders are per request so their caches never leak. */
export interface IdentityContext {
  requestId: string;
  logger: Logger;
  principal?: Principal;
  /** Recorded on sessions the request opens. */
  userAgent?: string | undefined;
  users: UsersManager;
  sessions: SessionsManager;
  wallets: WalletsManager;
  roles: RolesManager;
  apiKeys: ApiKeysManager;
  totp: TotpManager;
  oidc: OidcManager;
  loaders: ReturnType<typeof createUserLoaders> &
    ReturnType<typeof createSessionLoaders> &
    ReturnType<typeof createWalletLoaders> &
    ReturnType<typeof createOidcLoaders>;
}

export interface IdentityModules {
  logger: Logger;
  usersStorage: UsersStorage;
  users: UsersManager;
  sessionsStorage: SessionsStorage;
  sessions: SessionsManager;
  walletsStorage: WalletsStorage;
  wallets: WalletsManager;
  roles: RolesManager;
  apiKeys: ApiKeysManager;
  totp: TotpManager;
  oidcStorage: OidcStorage;
  oidc: OidcManager;
}

export function createContext(
  modules: IdentityModules,
  request: { requestId: string; principal?: Principal | undefined; userAgent?: string | undefined },
): IdentityContext {
  return {
    requestId: request.requestId,
    logger: modules.logger.child({ requestId: request.requestId }),
    ...(request.principal ? { principal: request.principal } : {}),
    userAgent: request.userAgent,
    users: modules.users,
    sessions: modules.sessions,
    wallets: modules.wallets,
    roles: modules.roles,
    apiKeys: modules.apiKeys,
    totp: modules.totp,
    oidc: modules.oidc,
    loaders: {
      ...createUserLoaders(modules.usersStorage),
      ...createSessionLoaders(modules.sessionsStorage, () => new Date()),
      ...createWalletLoaders(modules.walletsStorage),
      ...createOidcLoaders(modules.oidcStorage),
    },
  };
}

/** The signed-in caller, or UNAUTHENTICATED (a `{ ok: false }` result inside asResult). */
export function requirePrincipal(context: IdentityContext): Principal {
  if (!context.principal) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
  return context.principal;
}
