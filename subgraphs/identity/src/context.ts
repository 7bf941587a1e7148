import type { Logger } from '@symbeon/kernel';
import { createUserLoaders, type UsersStorage } from './modules/users/users-storage.js';
import type { UsersManager } from './modules/users/users-manager.js';

/** What every resolver of one request sees. Loaders are per request so their caches never leak. */
export interface IdentityContext {
  requestId: string;
  logger: Logger;
  users: UsersManager;
  loaders: ReturnType<typeof createUserLoaders>;
}

export interface IdentityModules {
  logger: Logger;
  usersStorage: UsersStorage;
  users: UsersManager;
}

export function createContext(modules: IdentityModules, requestId: string): IdentityContext {
  return {
    requestId,
    logger: modules.logger.child({ requestId }),
    users: modules.users,
    loaders: createUserLoaders(modules.usersStorage),
  };
}
