import { createHmac } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyOwnershipRules,
  createContentStore,
  loadSubgraphTypeDefs,
  openDatabase,
  resolveInternalAuthSecret,
  startOutboxRelay,
  startPeriodic,
  startSubgraph,
  type ContentStore,
  type EventTransport,
  type Logger,
  type RouteHandler,
  type RunningService,
} from '@symbeon/kernel';
import { createContext, type PaymentsModules } from './context.js';
import * as schema from './db/schema.js';
import type { PaymentsEnv } from './env.js';
import { consumeCatalogueEvents } from './modules/catalogue/catalogue-consumer.js';
import { cryptoModule } from './modules/crypto/crypto-module.js';
import { createInvoicesManager, INVOICES_PREFIX } from './modules/invoices/invoices-manager.js';
import { invoicesResolvers } from './modules/invoices/invoices-resolvers.js';
import { invoicePdfRoute } from './modules/invoices/invoice-route.js';
import { createInvoicesStorage } from './modules/invoices/invoices-storage.js';
import { consumeUserEvents } from './modules/known-users/known-users-consumer.js';
import { createKnownUsersStorage } from './modules/known-users/known-users-storage.js';
import { createLedgerManager } from './modules/ledger/ledger-manager.js';
import { ledgerResolvers } from './modules/ledger/ledger-resolvers.js';
import { createLedgerStorage } from './modules/ledger/ledger-storage.js';
import { createOrdersManager } from './modules/orders/orders-manager.js';
import { ordersResolvers } from './modules/orders/orders-resolvers.js';
import { createOrdersStorage, type PaymentsDb } from './modules/orders/orders-storage.js';
import type { PaymentsModule, PaymentsModuleFactory } from './modules/payments-module.js';
import { paypalModule } from './modules/paypal/paypal-module.js';
import { createSettlementManager } from './modules/settlement/settlement-manager.js';
import { createSettlementStorage } from './modules/settlement/settlement-storage.js';
import { stripeModule } from './modules/stripe/stripe-module.js';
import { paymentsPermissions } from './permissions.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const paymentsMigrations = path.resolve(here, '../drizzle');

/**
 * The payment providers: ADD YOUR MODULE HERE (one line), e.g. `stripeModule,` imported from
 * ./modules/stripe/stripe-module.js. See modules/payments-module.ts for what a module brings and receives.
 */
const providerModules: PaymentsModuleFactory[] = [stripeModule, paypalModule, cryptoModule];

export interface PaymentsDeps {
  env: PaymentsEnv;
  logger: Logger;
  transport: EventTransport;
  /** Default: createContentStore(env) (Kubo when IPFS_API_URL is set, else DATA_DIR/ipfs). */
  contentStore?: ContentStore;
  /** Replaces the provider modules (tests start the core alone or with one module). */
  modules?: PaymentsModuleFactory[];
}

export interface PaymentsService extends RunningService {
  modules: PaymentsModules;
  /** Resolves once payments knows these identity users (events are asynchronous). */
  waitForUsers(userIds: readonly string[], timeoutMs?: number): Promise<void>;
}

export interface PaymentsModulesOptions {
  env: Pick<
    PaymentsEnv,
    | 'PAYMENTS_PUBLIC_URL'
    | 'PAYMENTS_SELLER_NAME'
    | 'PAYMENTS_SELLER_ADDRESS'
    | 'PAYMENTS_SELLER_VAT_ID'
    | 'PAYMENTS_INVOICE_PREFIX'
    | 'PAYMENTS_VAT_RATE_BPS'
  >;
  contents: ContentStore;
  /** HMAC key of the invoice download links. */
  linkKey: string;
  logger: Logger;
  now?: () => Date;
}

/** Builds the managers over one database: what the service and the tests share. */
export function createPaymentsModules(db: PaymentsDb, options: PaymentsModulesOptions): PaymentsModules {
  const { env, logger } = options;
  const storage = { orders: createOrdersStorage(db), invoices: createInvoicesStorage(db) };
  const invoices = createInvoicesManager({
    storage: storage.invoices,
    contents: options.contents,
    publicUrl: env.PAYMENTS_PUBLIC_URL,
    linkKey: options.linkKey,
    ...(options.now ? { now: options.now } : {}),
  });
  const settlementStorage = createSettlementStorage(db, {
    vatRateBps: env.PAYMENTS_VAT_RATE_BPS,
    invoicePrefix: env.PAYMENTS_INVOICE_PREFIX,
    seller: {
      name: env.PAYMENTS_SELLER_NAME,
      addressLines: env.PAYMENTS_SELLER_ADDRESS.split('|')
        .map((line) => line.trim())
        .filter(Boolean),
      ...(env.PAYMENTS_SELLER_VAT_ID ? { vatId: env.PAYMENTS_SELLER_VAT_ID } : {}),
    },
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    logger,
    storage,
    orders: createOrdersManager(storage.orders),
    settlement: createSettlementManager({
      storage: settlementStorage,
      renderPdf: (invoice) => invoices.renderPdf(invoice),
      logger: logger.child({ module: 'settlement' }),
    }),
    invoices,
    ledger: createLedgerManager(createLedgerStorage(db)),
  };
}

/** The invoice links' key, derived from the internal secret so no extra secret needs managing. */
export const invoiceLinkKey = (internalSecret: string) =>
  createHmac('sha256', internalSecret).update('symbeon payments invoice links').digest('base64url');

export async function startPayments(deps: PaymentsDeps): Promise<PaymentsService> {
  const { env, logger } = deps;
  const database = await openDatabase({
    schemaName: 'payments',
    migrationsFolder: paymentsMigrations,
    schema,
    databaseUrl: env.PAYMENTS_DATABASE_URL ?? env.DATABASE_URL,
    dataDir: env.DATA_DIR,
  });
  const contents = deps.contentStore ?? (await createContentStore(env));
  const internalSecret = resolveInternalAuthSecret(env);
  const modules = createPaymentsModules(database.db, {
    env,
    contents,
    linkKey: invoiceLinkKey(internalSecret),
    logger,
  });
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  const userEvents = await consumeUserEvents(database.db, deps.transport);
  const catalogueEvents = await consumeCatalogueEvents(database.db, deps.transport);

  const providers: PaymentsModule[] = [];
  for (const factory of deps.modules ?? providerModules) {
    providers.push(
      await factory({
        env,
        logger,
        db: database.db,
        transport: deps.transport,
        contents,
        orders: modules.orders,
        settlement: modules.settlement,
      }),
    );
  }
  for (const provider of providers) await provider.start?.();
  const providerRoutes: Record<string, RouteHandler> = {};
  for (const provider of providers) Object.assign(providerRoutes, provider.routes);

  // Orders nobody paid for expire after PAYMENTS_ORDER_TTL_HOURS (checked every 10 minutes, and at start).
  const staleOrders =
    env.PAYMENTS_ORDER_TTL_HOURS === 0
      ? undefined
      : startPeriodic(
          async () => {
            const expired = await modules.orders.expireStale(env.PAYMENTS_ORDER_TTL_HOURS);
            if (expired > 0) logger.info({ expired }, 'stale orders expired');
          },
          600,
          (error) => logger.error({ err: error }, 'stale order sweep failed'),
          { immediately: true },
        );

  const knownUsers = createKnownUsersStorage(database.db);
  const service = await startSubgraph({
    name: 'payments',
    typeDefs: loadSubgraphTypeDefs(here),
    transformSchema: (built) => applyOwnershipRules(built, paymentsPermissions),
    resolvers: [
      ordersResolvers,
      invoicesResolvers,
      ledgerResolvers,
      ...providers.flatMap((provider) => (provider.resolvers ? [provider.resolvers] : [])),
    ],
    port: env.PAYMENTS_PORT,
    host: env.PAYMENTS_HOST,
    logger,
    ready: () => database.ping(),
    internalAuthSecret: internalSecret,
    prefixRoutes: {
      // Invoice PDFs behind signed links (Invoice.pdfUrl), through the gateway's GET /invoices/ pass-through.
      [INVOICES_PREFIX]: invoicePdfRoute(modules.invoices, logger),
      ...providerRoutes,
    },
    context: async ({ identity, principal }) => createContext(modules, identity.requestId, principal),
    onStop: async () => {
      await staleOrders?.close();
      for (const provider of [...providers].reverse()) await provider.stop?.();
      await userEvents.close();
      await catalogueEvents.close();
      await relay.close();
      await database.close();
      // A store handed in belongs to the caller.
      if (!deps.contentStore) await contents.close();
    },
  });

  async function waitForUsers(userIds: readonly string[], timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const known = await knownUsers.findExisting(userIds);
      if (userIds.every((id) => known.has(id))) return;
      if (Date.now() > deadline)
        throw new Error(`payments did not learn of users ${userIds.join(', ')} in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return Object.assign(service, { modules, waitForUsers });
}
