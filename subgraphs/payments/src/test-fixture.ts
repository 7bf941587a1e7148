import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createContentStore, createLogger, type ContentStore, type Principal } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { expect } from 'vitest';
import * as schema from './db/schema.js';
import { createCatalogueStorage } from './modules/catalogue/catalogue-storage.js';
import { createKnownUsersStorage } from './modules/known-users/known-users-storage.js';
import { createLedgerStorage } from './modules/ledger/ledger-storage.js';
import { createPaymentsModules, paymentsMigrations } from './service.js';

/**
 * One real database (PostgreSQL when DATABASE_URL is reachable, PGlite otherwise), the embedded content store
 * and the payments managers: what the payments tests share.
 */
export interface PaymentsFixture {
  database: TestDatabase<typeof schema>;
  contents: ContentStore;
  modules: ReturnType<typeof createPaymentsModules>;
  /** A published, priced programme in the catalogue projection. */
  programme(price?: { amountMinor: bigint; currency: string } | null): Promise<string>;
  /** A new buyer payments knows (as if identity.UserCreated had arrived). */
  buyer(handle?: string): Promise<Principal & { kind: 'user' }>;
  /** Fails the test unless every journal entry balances and the whole ledger sums to zero per currency. */
  expectLedgerBalanced(): Promise<void>;
  close(): Promise<void>;
}

export const userPrincipal = (userId: string, roles: string[] = []): Principal & { kind: 'user' } => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});

export async function openPaymentsFixture(
  env: Partial<Parameters<typeof createPaymentsModules>[1]['env']> = {},
): Promise<PaymentsFixture> {
  const database = await openTestDatabase({
    schemaName: 'payments',
    migrationsFolder: paymentsMigrations,
    schema,
  });
  const contentDir = mkdtempSync(path.join(tmpdir(), 'symbeon-payments-ipfs-'));
  const contents = await createContentStore({ DATA_DIR: contentDir });
  const modules = createPaymentsModules(database.db, {
    env: {
      PAYMENTS_PUBLIC_URL: 'http://localhost:8000',
      PAYMENTS_SELLER_NAME: 'Symbeon',
      PAYMENTS_SELLER_ADDRESS: '1 Test Street|75001 Paris',
      PAYMENTS_SELLER_VAT_ID: '',
      PAYMENTS_INVOICE_PREFIX: 'SYM',
      PAYMENTS_VAT_RATE_BPS: 0,
      ...env,
    },
    contents,
    linkKey: 'test-link-key',
    logger: createLogger('payments-test', { level: 'silent' }),
  });
  const catalogue = createCatalogueStorage();
  const knownUsers = createKnownUsersStorage(database.db);
  const ledger = createLedgerStorage(database.db);
  let programmes = 0;
  return {
    database,
    contents,
    modules,
    async programme(price = { amountMinor: 4900n, currency: 'EUR' }) {
      const itemId = randomUUID();
      programmes += 1;
      await catalogue.apply(database.db, {
        itemType: 'programme',
        itemId,
        slug: `programme-${programmes}`,
        name: `Programme ${programmes}`,
        price,
        status: 'AVAILABLE',
        at: new Date(),
      });
      return itemId;
    },
    async buyer(handle) {
      const userId = randomUUID();
      await knownUsers.remember(database.db, userId, handle ?? `buyer-${userId.slice(0, 8)}`);
      return userPrincipal(userId);
    },
    async expectLedgerBalanced() {
      expect(await ledger.unbalancedEntries()).toEqual([]);
      const totals = new Map<string, bigint>();
      for (const row of await ledger.balances()) {
        totals.set(row.currency, (totals.get(row.currency) ?? 0n) + row.balanceMinor);
      }
      for (const [currency, total] of totals) expect({ currency, total }).toEqual({ currency, total: 0n });
    },
    async close() {
      await contents.close();
      rmSync(contentDir, { recursive: true, force: true });
      await database.close();
    },
  };
}
