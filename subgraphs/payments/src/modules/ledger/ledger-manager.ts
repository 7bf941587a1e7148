import type { Principal } from '@symbeon/kernel';
import { requireAdmin } from '../shared/access.js';
import type { AccountBalance, LedgerStorage } from './ledger-storage.js';
import type { Provider } from '../orders/orders-storage.js';

export interface ProviderReconciliation {
  provider: Provider;
  currency: string;
  receivedMinor: bigint;
  refundedMinor: bigint;
  netMinor: bigint;
}

export interface LedgerReport {
  balanced: boolean;
  accounts: AccountBalance[];
  providers: ProviderReconciliation[];
}

/** Reconciliation for administrators: account totals, and per provider what came in and went out. */
export function createLedgerManager(storage: LedgerStorage) {
  async function report(): Promise<LedgerReport> {
    const [accounts, unbalanced] = await Promise.all([storage.balances(), storage.unbalancedEntries()]);
    const byProvider = new Map<string, ProviderReconciliation>();
    for (const row of accounts) {
      if (!row.provider || !row.account.startsWith('cash:')) continue;
      const key = `${row.provider}/${row.currency}`;
      const entry = byProvider.get(key) ?? {
        provider: row.provider,
        currency: row.currency,
        receivedMinor: 0n,
        refundedMinor: 0n,
        netMinor: 0n,
      };
      entry.receivedMinor += row.debitMinor;
      entry.refundedMinor += row.creditMinor;
      entry.netMinor = entry.receivedMinor - entry.refundedMinor;
      byProvider.set(key, entry);
    }
    return { balanced: unbalanced.length === 0, accounts, providers: [...byProvider.values()] };
  }

  return {
    report,
    async reportFor(principal: Principal): Promise<LedgerReport> {
      requireAdmin(principal);
      return report();
    },
  };
}

export type LedgerManager = ReturnType<typeof createLedgerManager>;
