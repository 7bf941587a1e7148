import type { ContentStore, EventTransport, GraphQLResolverMap, Logger, RouteHandler } from '@symbeon/kernel';
import type { PaymentsContext } from '../context.js';
import type { PaymentsEnv } from '../env.js';
import type { OrdersManager } from './orders/orders-manager.js';
import type { PaymentsDb } from './orders/orders-storage.js';
import type { SettlementManager } from './settlement/settlement-manager.js';

/**
 * THE EXTENSION POINT for payment providers (modules/stripe, modules/paypal, modules/crypto).
 *
 * A provider module is a folder under src/modules/<name>/ that exports a `PaymentsModuleFactory` and is added
 * to the one `providerModules` array in service.ts (a one-line edit). What it brings:
 *   - GraphQL: its SDL in src/modules/<name>/<name>.graphql (`extend type Query` / `extend type Mutation`),
 *     picked up automatically with every .graphql under src/ (and by `npm run compose`); its resolvers here.
 *     Resolvers receive PaymentsContext (the caller's principal, orders, settlement...).
 *   - HTTP: `routes`, keyed by path PREFIX (e.g. '/webhooks/stripe'), served by this subgraph beside /graphql;
 *     the gateway passes the public ones through (e.g. POST /webhooks/stripe).
 *   - Background work: `start` after the database and the relay are up, `stop` on shutdown (before the
 *     database closes).
 * It calls `deps.settlement.settle/refund` once money has provably moved, and `deps.orders` to read orders
 * and remember its references to them (setProviderRef / findByProviderRef). Its own tables, if any, go in
 * db/schema.ts (one Postgres schema per subgraph) with a migration (`npm run db:generate -w @symbeon/payments`).
 */
export interface PaymentsModule {
  /** e.g. 'stripe'; used in logs. */
  name: string;
  resolvers?: GraphQLResolverMap<PaymentsContext>;
  /** Raw HTTP handlers keyed by path prefix ('/webhooks/stripe'). */
  routes?: Record<string, RouteHandler>;
  start?: () => Promise<void>;
  stop?: () => Promise<void>;
}

/** What a provider module is built from. */
export interface PaymentsModuleDeps {
  env: PaymentsEnv;
  logger: Logger;
  db: PaymentsDb;
  transport: EventTransport;
  contents: ContentStore;
  orders: OrdersManager;
  settlement: SettlementManager;
}

export type PaymentsModuleFactory = (deps: PaymentsModuleDeps) => PaymentsModule | Promise<PaymentsModule>;
