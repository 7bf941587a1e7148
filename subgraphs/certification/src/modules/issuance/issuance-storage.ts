import DataLoader from 'dataloader';
import { and, asc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

export type CertificateRow = typeof schema.certificates.$inferSelect;
export type CertificateState = CertificateRow['status'];

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
const certificates = schema.certificates;

/** The command the chain subgraph consumes (a contract between the two, not an import). */
export const ChainCommandRequested = 'certification.ChainCommandRequested';
export interface ChainCommandRequestedPayload {
  /** The chain's idempotency key: `<request id>:<attempt>`. */
  commandId: string;
  kind: 'issue';
  holder: string;
  contentCid: string;
  /** UTC ISO-8601. */
  expiresAt: string;
  requestId: string;
  certificateId: string;
}

/**
 * Certificates and the known-wallets projection. Built over the database or over a consumer's transaction:
 * the issuance steps run inside the transaction that marks their event processed.
 */
export function createIssuanceStorage(db: CertificationDb) {
  return {
    async rememberWallet(wallet: typeof schema.knownWallets.$inferInsert): Promise<void> {
      await db.insert(schema.knownWallets).values(wallet).onConflictDoNothing();
    },

    /** The user's first linked wallet: the holder of their certificates. */
    async firstWalletOf(userId: string): Promise<string | undefined> {
      const [row] = await db
        .select({ address: schema.knownWallets.address })
        .from(schema.knownWallets)
        .where(eq(schema.knownWallets.userId, userId))
        .orderBy(asc(schema.knownWallets.linkedAt), asc(schema.knownWallets.address))
        .limit(1);
      return row?.address;
    },

    /** The automated audit's report CID (the audit module writes request_audits; read only here). */
    async auditReportCid(requestId: string): Promise<string | null> {
      const [row] = await db
        .select({ reportCid: schema.requestAudits.reportCid })
        .from(schema.requestAudits)
        .where(eq(schema.requestAudits.requestId, requestId));
      return row?.reportCid ?? null;
    },

    /** The request's certificate row, created once (the unique request id decides, race-free). */
    async insertPending(values: {
      requestId: string;
      programmeId: string;
      holderId: string;
    }): Promise<CertificateRow> {
      await db.insert(certificates).values(values).onConflictDoNothing();
      const [row] = await db.select().from(certificates).where(eq(certificates.requestId, values.requestId));
      return row!;
    },

    /** Writes the built documents and records the chain command, in the caller's transaction. */
    async recordIssueCommand(
      id: string,
      documents: Pick<
        CertificateRow,
        'holderAddress' | 'tokenId' | 'metadataCid' | 'credentialCid' | 'imageCid' | 'issuedAt' | 'expiresAt'
      > & { chainId: number },
      command: ChainCommandRequestedPayload,
    ): Promise<CertificateRow | undefined> {
      const [row] = await db
        .update(certificates)
        .set({ ...documents, commandId: command.commandId, updatedAt: new Date() })
        .where(and(eq(certificates.id, id), eq(certificates.status, 'ISSUING'), isNull(certificates.tokenId)))
        .returning();
      if (!row) return undefined;
      await recordEvent<ChainCommandRequestedPayload>(db, tables, ChainCommandRequested, command);
      return row;
    },

    /** Certificates whose issuing transaction is one of these. */
    async findByTxHashes(hashes: readonly string[]): Promise<CertificateRow[]> {
      if (hashes.length === 0) return [];
      return db
        .select()
        .from(certificates)
        .where(inArray(certificates.txHash, [...hashes]));
    },

    async findByCommandId(commandId: string): Promise<CertificateRow | undefined> {
      const [row] = await db.select().from(certificates).where(eq(certificates.commandId, commandId));
      return row;
    },

    /** The chain's last failure of one of the certificate's commands; `null` clears it. */
    async recordChainError(id: string, error: { message: string; retryable: boolean } | null): Promise<void> {
      await db
        .update(certificates)
        .set({
          chainError: error?.message.slice(0, 2000) ?? null,
          chainErrorAt: error ? new Date() : null,
          chainErrorRetryable: error ? error.retryable : null,
          updatedAt: new Date(),
        })
        .where(eq(certificates.id, id));
    },

    /**
     * Clears an ISSUING certificate's documents for a new attempt under a new command id (`attempt` + 1);
     * undefined when it is not ISSUING with a failure recorded (issued meanwhile, or retried already).
     */
    async resetForNewAttempt(id: string): Promise<CertificateRow | undefined> {
      const [row] = await db
        .update(certificates)
        .set({
          attempt: sql`${certificates.attempt} + 1`,
          tokenId: null,
          metadataCid: null,
          credentialCid: null,
          imageCid: null,
          issuedAt: null,
          expiresAt: null,
          commandId: null,
          chainError: null,
          chainErrorAt: null,
          chainErrorRetryable: null,
          updatedAt: new Date(),
        })
        .where(
          and(
            eq(certificates.id, id),
            eq(certificates.status, 'ISSUING'),
            isNotNull(certificates.chainError),
          ),
        )
        .returning();
      return row;
    },

    /** Records the same issue command again (same command id: the chain sends it at most once). */
    async repeatIssueCommand(command: ChainCommandRequestedPayload): Promise<void> {
      await recordEvent<ChainCommandRequestedPayload>(db, tables, ChainCommandRequested, command);
    },

    async awaitingWallet(holderId: string): Promise<CertificateRow[]> {
      return db
        .select()
        .from(certificates)
        .where(
          and(
            eq(certificates.holderId, holderId),
            eq(certificates.status, 'ISSUING'),
            isNull(certificates.holderAddress),
          ),
        );
    },

    /** Moves a certificate from one state to another (conditional: undefined when it was not in `from`). */
    async changeState(
      id: string,
      from: CertificateState,
      change: Partial<Omit<typeof certificates.$inferInsert, 'id' | 'requestId'>> & {
        status: CertificateState;
      },
    ): Promise<CertificateRow | undefined> {
      const [row] = await db
        .update(certificates)
        .set({ ...change, updatedAt: new Date() })
        .where(and(eq(certificates.id, id), eq(certificates.status, from)))
        .returning();
      return row;
    },

    async findByIds(ids: readonly string[]): Promise<CertificateRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(certificates)
        .where(inArray(certificates.id, [...ids]));
    },

    async findByTokenIds(tokenIds: readonly string[]): Promise<CertificateRow[]> {
      if (tokenIds.length === 0) return [];
      return db
        .select()
        .from(certificates)
        .where(inArray(certificates.tokenId, [...tokenIds]));
    },

    async findByMetadataCids(cids: readonly string[]): Promise<CertificateRow[]> {
      if (cids.length === 0) return [];
      return db
        .select()
        .from(certificates)
        .where(inArray(certificates.metadataCid, [...cids]));
    },

    async findByRequestIds(requestIds: readonly string[]): Promise<CertificateRow[]> {
      if (requestIds.length === 0) return [];
      return db
        .select()
        .from(certificates)
        .where(inArray(certificates.requestId, [...requestIds]));
    },
  };
}

export type IssuanceStorage = ReturnType<typeof createIssuanceStorage>;

/** Certificates that exist for their readers: the chain issued them (ISSUING ones are not certificates yet). */
const issued = (row: CertificateRow | undefined) => (row && row.status !== 'ISSUING' ? row : null);

export function createCertificateLoaders(storage: IssuanceStorage) {
  return {
    certificateById: new DataLoader<string, CertificateRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => issued(byId.get(id)));
    }),
    /** The request's certificate row in any state (ISSUING included): its issuance's progress. */
    certificateRowByRequest: new DataLoader<string, CertificateRow | null>(async (ids) => {
      const byRequest = new Map((await storage.findByRequestIds(ids)).map((row) => [row.requestId, row]));
      return ids.map((id) => byRequest.get(id) ?? null);
    }),
    certificateByRequest: new DataLoader<string, CertificateRow | null>(async (ids) => {
      const byRequest = new Map((await storage.findByRequestIds(ids)).map((row) => [row.requestId, row]));
      return ids.map((id) => issued(byRequest.get(id)));
    }),
  };
}
