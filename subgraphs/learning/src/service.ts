import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSubgraphTypeDefs,
  openDatabase,
  resolveInternalAuthSecret,
  startOutboxRelay,
  applyOwnershipRules,
  startSubgraph,
  type EventTransport,
  type Logger,
  type RunningService,
} from '@symbeon/kernel';
import { createContext, type LearningModules } from './context.js';
import * as schema from './db/schema.js';
import { learningPermissions } from './permissions.js';
import type { LearningEnv } from './env.js';
import { createCoursesManager } from './modules/courses/courses-manager.js';
import { coursesResolvers } from './modules/courses/courses-resolvers.js';
import { createCoursesStorage } from './modules/courses/courses-storage.js';
import { createEnrollmentsManager } from './modules/enrollments/enrollments-manager.js';
import { enrollmentsResolvers } from './modules/enrollments/enrollments-resolvers.js';
import { createEnrollmentsStorage } from './modules/enrollments/enrollments-storage.js';
import { createEventsManager } from './modules/events/events-manager.js';
import { eventsResolvers } from './modules/events/events-resolvers.js';
import { createEventsStorage } from './modules/events/events-storage.js';
import { consumeUserEvents } from './modules/known-users/known-users-consumer.js';
import { createKnownUsersStorage } from './modules/known-users/known-users-storage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const learningMigrations = path.resolve(here, '../drizzle');

export interface LearningDeps {
  env: LearningEnv;
  logger: Logger;
  transport: EventTransport;
  onQuery?: (query: string, params: unknown[]) => void;
}

export interface LearningService extends RunningService {
  modules: LearningModules;
  /** Resolves once learning knows these identity users (events are asynchronous). */
  waitForUsers(userIds: readonly string[], timeoutMs?: number): Promise<void>;
}

export async function startLearning(deps: LearningDeps): Promise<LearningService> {
  const { env, logger } = deps;
  const database = await openDatabase({
    schemaName: 'learning',
    migrationsFolder: learningMigrations,
    schema,
    databaseUrl: env.LEARNING_DATABASE_URL ?? env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    ...(deps.onQuery ? { onQuery: deps.onQuery } : {}),
  });
  const storage = {
    courses: createCoursesStorage(database.db),
    events: createEventsStorage(database.db),
    enrollments: createEnrollmentsStorage(database.db),
  };
  const knownUsers = createKnownUsersStorage(database.db);
  const modules: LearningModules = {
    logger,
    storage,
    courses: createCoursesManager(storage.courses, knownUsers),
    events: createEventsManager(storage.events, knownUsers),
    enrollments: createEnrollmentsManager(storage.enrollments, storage.courses, knownUsers),
  };
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  const userEvents = await consumeUserEvents(database.db, deps.transport);

  const service = await startSubgraph({
    name: 'learning',
    typeDefs: loadSubgraphTypeDefs(here),
    transformSchema: (built) => applyOwnershipRules(built, learningPermissions),
    resolvers: [coursesResolvers, eventsResolvers, enrollmentsResolvers],
    port: env.LEARNING_PORT,
    host: env.LEARNING_HOST,
    logger,
    ready: () => database.ping(),
    internalAuthSecret: resolveInternalAuthSecret(env),
    context: async ({ identity, principal }) => createContext(modules, identity.requestId, principal),
    onStop: async () => {
      await userEvents.close();
      await relay.close();
      await database.close();
    },
  });

  async function waitForUsers(userIds: readonly string[], timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const known = await knownUsers.findExisting(userIds);
      if (userIds.every((id) => known.has(id))) return;
      if (Date.now() > deadline)
        throw new Error(`learning did not learn of users ${userIds.join(', ')} in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return Object.assign(service, { modules, waitForUsers });
}
