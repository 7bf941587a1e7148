import type { Logger, Principal } from '@symbeon/kernel';
import type { InvoicesManager } from './modules/invoices/invoices-manager.js';
import { createInvoiceLoaders, type InvoicesStorage } from './modules/invoices/invoices-storage.js';
import type { LedgerManager } from './modules/ledger/ledger-manager.js';
import type { OrdersManager } from './modules/orders/orders-manager.js';
import { createOrderLoaders, type OrdersStorage } from './modules/orders/orders-storage.js';
import type { SettlementManager } from './modules/settlement/settlement-manager.js';

export interface PaymentsModules {
  logger: Logger;
  storage: { orders: OrdersStorage; invoices: InvoicesStorage };
  orders: OrdersManager;
  settlement: SettlementManager;
  invoices: InvoicesManager;
  ledger: LedgerManager;
}

function createLoaders(storage: PaymentsModules['storage']) {
  return {
    ...createOrderLoaders(storage.orders),
    ...createInvoiceLoaders(storage.invoices),
  };
}

/** What every resolver of one request sees. Loaders are per request so their caches never leak. */
export interface PaymentsContext extends Omit<PaymentsModules, 'storage'> {
  requestId: string;
  /** The caller, as the gateway vouched for it (internal token). */
  principal: Principal;
  loaders: ReturnType<typeof createLoaders>;
}

export function createContext(
  modules: PaymentsModules,
  requestId: string,
  principal: Principal,
): PaymentsContext {
  const { storage, ...rest } = modules;
  return {
    ...rest,
    logger: modules.logger.child({ requestId }),
    requestId,
    principal,
    loaders: createLoaders(storage),
  };
}
