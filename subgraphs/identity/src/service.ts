import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSubgraphTypeDefs,
  openDatabase,
  startOutboxRelay,
  startSubgraph,
  type EventTransport,
  type Logger,
  type RunningService,
} from '@symbeon/kernel';
import { createContext } from './context.js';
import * as schema from './db/schema.js';
import type { IdentityEnv } from './env.js';
import { createUsersManager } from './modules/users/users-manager.js';
import { usersResolvers } from './modules/users/users-resolvers.js';
import { createUsersStorage } from './modules/users/users-storage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const identityMigrations = path.resolve(here, '../drizzle');

export interface IdentityDeps {
  env: IdentityEnv;
  logger: Logger;
  transport: EventTransport;
  /** Sees every SQL statement (tests count them). */
  onQuery?: (query: string, params: unknown[]) => void;
}

export interface IdentityService extends RunningService {
  users: ReturnType<typeof createUsersManager>;
}

export async function startIdentity(deps: IdentityDeps): Promise<IdentityService> {
  const { env, logger } = deps;
  const database = await openDatabase({
    schemaName: 'identity',
    migrationsFolder: identityMigrations,
    schema,
    databaseUrl: env.IDENTITY_DATABASE_URL ?? env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    ...(deps.onQuery ? { onQuery: deps.onQuery } : {}),
  });
  const usersStorage = createUsersStorage(database.db);
  const users = createUsersManager(usersStorage);
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  const modules = { logger, usersStorage, users };

  const service = await startSubgraph({
    name: 'identity',
    typeDefs: loadSubgraphTypeDefs(here),
    resolvers: [usersResolvers],
    port: env.IDENTITY_PORT,
    host: env.IDENTITY_HOST,
    logger,
    ready: () => database.ping(),
    context: async ({ identity }) => createContext(modules, identity.requestId),
    onStop: async () => {
      await relay.close();
      await database.close();
    },
  });
  return Object.assign(service, { users });
}
