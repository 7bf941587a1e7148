import type { GraphQLResolverMap } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import type { AccountBalance } from './ledger-storage.js';
import type { ProviderReconciliation } from './ledger-manager.js';

type Context = PaymentsContext;

export const ledgerResolvers: GraphQLResolverMap<Context> = {
  Query: {
    ledgerBalances: (_: unknown, __: unknown, context: Context) =>
      context.ledger.reportFor(context.principal),
  },
  LedgerAccountBalance: {
    debitMinor: (row: AccountBalance) => row.debitMinor.toString(),
    creditMinor: (row: AccountBalance) => row.creditMinor.toString(),
    balanceMinor: (row: AccountBalance) => row.balanceMinor.toString(),
  },
  ProviderReconciliation: {
    receivedMinor: (row: ProviderReconciliation) => row.receivedMinor.toString(),
    refundedMinor: (row: ProviderReconciliation) => row.refundedMinor.toString(),
    netMinor: (row: ProviderReconciliation) => row.netMinor.toString(),
  },
};
