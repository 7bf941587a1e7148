import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyOwnershipRules,
  loadSubgraphTypeDefs,
  openDatabase,
  resolveInternalAuthSecret,
  startOutboxRelay,
  startSubgraph,
  type EventTransport,
  type Logger,
  type RunningService,
} from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { createContext, type ChainModules } from './context.js';
import * as schema from './db/schema.js';
import type { ChainEnv } from './env.js';
import { createCertificateFeed } from './modules/certificates/certificate-feed.js';
import { createCertificatesManager } from './modules/certificates/certificates-manager.js';
import { consumeChainCommands } from './modules/commands/commands-consumer.js';
import { certificatesResolvers } from './modules/certificates/certificates-resolvers.js';
import { createIndexer, type Indexer } from './modules/indexer/indexer.js';
import { CERTIFICATE_EVENTS_CHANNEL, createIndexerStorage } from './modules/indexer/indexer-storage.js';
import { openChainRegistry, type ChainRegistry } from './modules/registry/chain-registry.js';
import { createRegistryResolvers } from './modules/registry/registry-resolvers.js';
import { createTransactionsManager } from './modules/transactions/transactions-manager.js';
import { transactionsResolvers } from './modules/transactions/transactions-resolvers.js';
import { createTransactionsStorage } from './modules/transactions/transactions-storage.js';
import { chainPermissions } from './permissions.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const chainMigrations = path.resolve(here, '../drizzle');

export interface ChainDeps {
  env: ChainEnv;
  logger: Logger;
  transport: EventTransport;
  /** Replaces eth_sendRawTransaction (tests simulate a crash between persisting and broadcasting). */
  broadcast?: (rawTransaction: string) => Promise<void>;
}

export interface ChainService extends RunningService {
  modules: ChainModules;
  registry: ChainRegistry;
  indexer: Indexer;
}

export async function startChainService(deps: ChainDeps): Promise<ChainService> {
  const { env, logger } = deps;
  // The node and the database are independent: open both at once.
  const [registry, database] = await Promise.all([
    openChainRegistry({
      rpcUrl: env.CHAIN_RPC_URL,
      deploymentPath: env.CHAIN_DEPLOYMENT_PATH,
      pollingIntervalMs: env.CHAIN_POLL_INTERVAL_MS,
    }),
    openDatabase({
      schemaName: 'chain',
      migrationsFolder: chainMigrations,
      schema,
      databaseUrl: env.CHAIN_DATABASE_URL ?? env.DATABASE_URL,
      dataDir: env.DATA_DIR,
    }),
  ]);
  const storage = {
    transactions: createTransactionsStorage(database.db),
    indexer: createIndexerStorage(database.db),
  };
  const feed = createCertificateFeed();
  const indexer = createIndexer({
    registry,
    storage: storage.indexer,
    logger: logger.child({ module: 'indexer' }),
    blockRange: env.CHAIN_BLOCK_RANGE,
    confirmations: env.CHAIN_CONFIRMATIONS,
    pollIntervalMs: env.CHAIN_POLL_INTERVAL_MS,
    onCommitted: () => feed.wake(),
  });
  const transactions = createTransactionsManager({
    registry,
    storage: storage.transactions,
    logger: logger.child({ module: 'transactions' }),
    // The default is a public test key: it holds nothing outside a local chain.
    signerKey: env.CHAIN_SIGNER_KEY ?? anvilDevAccounts[0].privateKey,
    gasLimitCap: env.CHAIN_GAS_LIMIT_CAP,
    maxFeeGwei: env.CHAIN_MAX_FEE_GWEI,
    replaceAfterSeconds: env.CHAIN_REPLACE_AFTER_SECONDS,
    pollIntervalMs: env.CHAIN_POLL_INTERVAL_MS,
    ...(deps.broadcast ? { broadcast: deps.broadcast } : {}),
  });
  const modules: ChainModules = {
    logger,
    chainId: registry.chainId,
    storage,
    transactions,
    certificates: createCertificatesManager({
      registry,
      storage: storage.indexer,
      indexer,
      feed,
      confirmations: env.CHAIN_CONFIRMATIONS,
      logger,
    }),
  };
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  // Another replica's indexer commits wake this one's subscriptions.
  const unlisten = await database
    .listen(CERTIFICATE_EVENTS_CHANNEL, () => feed.wake())
    .catch((error: unknown) => {
      logger.warn(
        { err: error },
        'cannot LISTEN for certificate events; only this process wakes subscriptions',
      );
      return undefined;
    });
  transactions.start();
  if (env.CHAIN_INDEXER) indexer.start();
  const commands = await consumeChainCommands({
    db: database.db,
    transport: deps.transport,
    transactions,
    logger: logger.child({ module: 'commands' }),
  });

  const service = await startSubgraph({
    name: 'chain',
    typeDefs: loadSubgraphTypeDefs(here),
    transformSchema: (built) => applyOwnershipRules(built, chainPermissions),
    resolvers: [
      certificatesResolvers,
      transactionsResolvers,
      createRegistryResolvers(registry, storage.indexer),
    ],
    port: env.CHAIN_PORT,
    host: env.CHAIN_HOST,
    logger,
    ready: () => database.ping(),
    internalAuthSecret: resolveInternalAuthSecret(env),
    subscriptions: true,
    context: async ({ identity, principal }) => createContext(modules, identity.requestId, principal),
    onStop: async () => {
      await commands.close();
      await indexer.stop();
      await transactions.stop();
      await unlisten?.();
      await relay.close();
      registry.close();
      await database.close();
    },
  });
  return Object.assign(service, { modules, registry, indexer });
}
