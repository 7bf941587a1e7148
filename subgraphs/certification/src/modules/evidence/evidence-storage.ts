import DataLoader from 'dataloader';
import { and, asc, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

export type EvidenceRow = typeof schema.requestEvidence.$inferSelect;
export type UploadRow = typeof schema.evidenceUploads.$inferSelect;
export type NewUpload = Omit<typeof schema.evidenceUploads.$inferInsert, 'usedAt' | 'createdAt' | 'purpose'>;
export type NewEvidence = Omit<EvidenceRow, 'uploadedAt'>;

const evidence = schema.requestEvidence;
const uploads = schema.evidenceUploads;

/** Spent or expired upload rows are kept this long (410 rather than 404 for a late retry), then deleted. */
const UPLOAD_RETENTION_MS = 24 * 3600_000;

export function createEvidenceStorage(db: CertificationDb) {
  return {
    async insertUpload(row: NewUpload): Promise<void> {
      await db.insert(uploads).values(row);
      // Housekeeping on the write path: at most a day of old tokens stays around.
      await db.delete(uploads).where(lt(uploads.expiresAt, new Date(Date.now() - UPLOAD_RETENTION_MS)));
    },

    async findUpload(tokenHash: string): Promise<UploadRow | undefined> {
      const [row] = await db.select().from(uploads).where(eq(uploads.tokenHash, tokenHash));
      return row;
    },

    /**
     * Spends a token: marks it used if it is unused and unexpired, in one conditional update, so of two
     * concurrent PUTs with the same URL exactly one proceeds. 'unknown' / 'spent' tell the caller why not.
     */
    async claimUpload(tokenHash: string, now: Date): Promise<UploadRow | 'unknown' | 'spent'> {
      const [claimed] = await db
        .update(uploads)
        .set({ usedAt: now })
        .where(and(eq(uploads.tokenHash, tokenHash), isNull(uploads.usedAt), gt(uploads.expiresAt, now)))
        .returning();
      if (claimed) return claimed;
      const [existing] = await db
        .select({ tokenHash: uploads.tokenHash })
        .from(uploads)
        .where(eq(uploads.tokenHash, tokenHash));
      return existing ? 'spent' : 'unknown';
    },

    /**
     * Records (or replaces) the document for one evidence key, only while the request is still DRAFT: the
     * request row is locked FOR SHARE, so a concurrent submission either commits first (and this sees it
     * and refuses) or waits until this commits (and its guard, re-read after, sees the document).
     * 'not-draft' when the request moved on.
     */
    async recordEvidence(row: NewEvidence): Promise<EvidenceRow | 'not-draft'> {
      return db.transaction(async (tx) => {
        const [request] = await tx
          .select({ status: schema.certificationRequests.status })
          .from(schema.certificationRequests)
          .where(eq(schema.certificationRequests.id, row.requestId))
          .for('share');
        if (request?.status !== 'DRAFT') return 'not-draft';
        const [saved] = await tx
          .insert(evidence)
          .values({ ...row, uploadedAt: new Date() })
          .onConflictDoUpdate({
            target: [evidence.requestId, evidence.evidenceKey],
            set: {
              fileName: row.fileName,
              cid: row.cid,
              sha256: row.sha256,
              size: row.size,
              mediaType: row.mediaType,
              uploadedBy: row.uploadedBy,
              uploadedAt: sql`excluded.uploaded_at`,
            },
          })
          .returning();
        return saved!;
      });
    },

    async findByRequests(requestIds: readonly string[]): Promise<EvidenceRow[]> {
      if (requestIds.length === 0) return [];
      return db
        .select()
        .from(evidence)
        .where(inArray(evidence.requestId, [...requestIds]))
        .orderBy(asc(evidence.requestId), asc(evidence.evidenceKey));
    },
  };
}

export type EvidenceStorage = ReturnType<typeof createEvidenceStorage>;

export function createEvidenceLoaders(storage: EvidenceStorage) {
  return {
    evidenceByRequest: new DataLoader<string, EvidenceRow[]>(async (ids) => {
      const rows = await storage.findByRequests(ids);
      return ids.map((id) => rows.filter((row) => row.requestId === id));
    }),
  };
}
