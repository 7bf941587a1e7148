import { sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { PaymentsDb, Provider } from '../orders/orders-storage.js';

export interface AccountBalance {
  account: string;
  provider: Provider | null;
  currency: string;
  debitMinor: bigint;
  creditMinor: bigint;
  /** debit − credit: positive for assets (cash), negative for liabilities and revenue. */
  balanceMinor: bigint;
}

export function createLedgerStorage(db: PaymentsDb) {
  return {
    /** Totals per account, provider and currency over the whole journal. */
    async balances(): Promise<AccountBalance[]> {
      const lines = schema.journalLines;
      const rows = await db
        .select({
          account: lines.account,
          provider: lines.provider,
          currency: lines.currency,
          debit: sql<string>`sum(${lines.debitMinor})::text`,
          credit: sql<string>`sum(${lines.creditMinor})::text`,
        })
        .from(lines)
        .groupBy(lines.account, lines.provider, lines.currency)
        .orderBy(lines.account, lines.currency, lines.provider);
      return rows.map((row) => {
        const debitMinor = BigInt(row.debit);
        const creditMinor = BigInt(row.credit);
        return {
          account: row.account,
          provider: row.provider,
          currency: row.currency,
          debitMinor,
          creditMinor,
          balanceMinor: debitMinor - creditMinor,
        };
      });
    },

    /** Entries whose lines do not balance in some currency: always empty (the deferred trigger refuses them). */
    async unbalancedEntries(): Promise<{ entryId: string; currency: string }[]> {
      const lines = schema.journalLines;
      return db
        .select({ entryId: lines.entryId, currency: lines.currency })
        .from(lines)
        .groupBy(lines.entryId, lines.currency)
        .having(sql`sum(${lines.debitMinor}) <> sum(${lines.creditMinor})`);
    },

    async linesOfOrder(orderId: string) {
      return db
        .select({
          kind: schema.journalEntries.kind,
          account: schema.journalLines.account,
          provider: schema.journalLines.provider,
          debitMinor: schema.journalLines.debitMinor,
          creditMinor: schema.journalLines.creditMinor,
          currency: schema.journalLines.currency,
        })
        .from(schema.journalLines)
        .innerJoin(schema.journalEntries, sql`${schema.journalEntries.id} = ${schema.journalLines.entryId}`)
        .where(sql`${schema.journalEntries.orderId} = ${orderId}`)
        .orderBy(schema.journalLines.id);
    },
  };
}

export type LedgerStorage = ReturnType<typeof createLedgerStorage>;
