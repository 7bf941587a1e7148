import DataLoader from 'dataloader';
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

export type BatchRow = typeof schema.certificateBatches.$inferSelect;

const batches = schema.certificateBatches;
const certificates = schema.certificates;

/**
 * Merkle batches and their members. Built over the database or over a consumer's transaction: joining,
 * closing and anchoring run inside the transaction that also records their events.
 */
export function createBatchesStorage(db: CertificationDb) {
  return {
    /** An outbox event in this transaction (the batch's chain commands). */
    recordEvent: <T>(type: string, payload: T) =>
      recordEvent<T>(db, { outbox: schema.outbox, processedEvents: schema.processedEvents }, type, payload),

    /**
     * The programme's open batch, locked for this transaction (created when there is none). A batch being
     * closed meanwhile is re-checked after its lock is released and no longer matches `OPEN`, so a member
     * never joins a batch whose tree is already built.
     */
    async lockOpenBatch(programmeId: string): Promise<BatchRow> {
      const find = () =>
        db
          .select()
          .from(batches)
          .where(and(eq(batches.programmeId, programmeId), eq(batches.status, 'OPEN')))
          .for('update');
      const [open] = await find();
      if (open) return open;
      // The partial unique index keeps one OPEN batch per programme, whoever inserts first.
      await db.insert(batches).values({ programmeId }).onConflictDoNothing();
      const [created] = await find();
      if (!created) throw new Error(`No open batch for programme ${programmeId}`);
      return created;
    },

    /** Locks an OPEN batch for closing (undefined when it is not OPEN any more). */
    async lockIfOpen(id: string): Promise<BatchRow | undefined> {
      const [row] = await db
        .select()
        .from(batches)
        .where(and(eq(batches.id, id), eq(batches.status, 'OPEN')))
        .for('update');
      return row;
    },

    /** Writes a member's documents and leaf into the batch, while the certificate has none. */
    async join(
      certificateId: string,
      batch: BatchRow,
      documents: Pick<
        CertificateRow,
        'holderAddress' | 'metadataCid' | 'credentialCid' | 'imageCid' | 'issuedAt' | 'expiresAt' | 'leaf'
      > & { chainId: number },
    ): Promise<{ certificate: CertificateRow; batch: BatchRow } | undefined> {
      const [certificate] = await db
        .update(certificates)
        .set({ ...documents, batchId: batch.id, updatedAt: new Date() })
        .where(
          and(
            eq(certificates.id, certificateId),
            eq(certificates.status, 'ISSUING'),
            sql`${certificates.metadataCid} is null`,
          ),
        )
        .returning();
      if (!certificate) return undefined;
      const [grown] = await db
        .update(batches)
        .set({ size: sql`${batches.size} + 1`, updatedAt: new Date() })
        .where(eq(batches.id, batch.id))
        .returning();
      return { certificate, batch: grown! };
    },

    /** Members in a stable order (the manifest lists them so). */
    async members(batchId: string): Promise<CertificateRow[]> {
      return db
        .select()
        .from(certificates)
        .where(eq(certificates.batchId, batchId))
        .orderBy(asc(certificates.createdAt), asc(certificates.id));
    },

    async setProof(certificateId: string, proof: string[]): Promise<void> {
      await db
        .update(certificates)
        .set({ proof, updatedAt: new Date() })
        .where(eq(certificates.id, certificateId));
    },

    async markClosed(
      id: string,
      closed: { merkleRoot: string; size: number; manifestCid: string; commandId: string },
    ): Promise<BatchRow> {
      const [row] = await db
        .update(batches)
        .set({ ...closed, status: 'ANCHORING', closedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(batches.id, id), eq(batches.status, 'OPEN')))
        .returning();
      if (!row) throw new Error(`Batch ${id} was not open`);
      return row;
    },

    /** ANCHORING → ANCHORED (conditional: undefined when the batch was not waiting for it). */
    async markAnchored(
      id: string,
      anchored: { chainId: number; txHash: string; blockNumber: number; anchoredBy: string | null },
    ): Promise<BatchRow | undefined> {
      const [row] = await db
        .update(batches)
        .set({ ...anchored, status: 'ANCHORED', anchoredAt: new Date(), updatedAt: new Date() })
        .where(and(eq(batches.id, id), eq(batches.status, 'ANCHORING')))
        .returning();
      return row;
    },

    /** OPEN batches opened at or before `openedBy` (the age limit). */
    async openSince(openedBy: Date): Promise<BatchRow[]> {
      return db
        .select()
        .from(batches)
        .where(and(eq(batches.status, 'OPEN'), lte(batches.openedAt, openedBy)));
    },

    async openOf(programmeId: string): Promise<BatchRow | undefined> {
      const [row] = await db
        .select()
        .from(batches)
        .where(and(eq(batches.programmeId, programmeId), eq(batches.status, 'OPEN')));
      return row;
    },

    async findByRoot(root: string): Promise<BatchRow | undefined> {
      const [row] = await db.select().from(batches).where(eq(batches.merkleRoot, root.toLowerCase()));
      return row;
    },

    async findByIds(ids: readonly string[]): Promise<BatchRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(batches)
        .where(inArray(batches.id, [...ids]));
    },

    async memberByLeaf(batchId: string, leaf: string): Promise<CertificateRow | undefined> {
      const [row] = await db
        .select()
        .from(certificates)
        .where(and(eq(certificates.batchId, batchId), eq(certificates.leaf, leaf.toLowerCase())));
      return row;
    },
  };
}

export type BatchesStorage = ReturnType<typeof createBatchesStorage>;

export function createBatchLoaders(storage: BatchesStorage) {
  return {
    batchById: new DataLoader<string, BatchRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
