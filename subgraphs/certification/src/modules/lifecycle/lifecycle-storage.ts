import { and, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
const certificates = schema.certificates;
const requests = schema.certificationRequests;
/** One replica sweeps at a time: a transaction-scoped advisory lock (released at commit). */
const SWEEP_LOCK = 'symbeon:certification:expiry-sweep';

/** The lifecycle's reads and outbox writes (the certificate rows themselves change through issuance's storage). */
export function createLifecycleStorage(db: CertificationDb) {
  return {
    recordEvent: <T>(type: string, payload: T) => recordEvent<T>(db, tables, type, payload),

    /** Waits for the sweep lock of this transaction (another replica's sweep finishes first). */
    async lockSweep(): Promise<void> {
      await db.execute(sql`select pg_advisory_xact_lock(hashtext(${SWEEP_LOCK}))`);
    },

    /** VALID certificates whose expiry passed. */
    async expiredBy(at: Date): Promise<CertificateRow[]> {
      return db
        .select()
        .from(certificates)
        .where(and(eq(certificates.status, 'VALID'), lte(certificates.expiresAt, at)));
    },

    /** Requests of VALID certificates expiring in (at, windowEnd] that are ISSUED or RENEWED. */
    async renewalCandidates(at: Date, windowEnd: Date): Promise<string[]> {
      const rows = await db
        .select({ requestId: certificates.requestId })
        .from(certificates)
        .innerJoin(requests, eq(requests.id, certificates.requestId))
        .where(
          and(
            eq(certificates.status, 'VALID'),
            gt(certificates.expiresAt, at),
            lte(certificates.expiresAt, windowEnd),
            inArray(requests.status, ['ISSUED', 'RENEWED']),
          ),
        );
      return rows.map((row) => row.requestId);
    },
  };
}
