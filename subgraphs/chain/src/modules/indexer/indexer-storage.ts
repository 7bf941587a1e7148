import { and, asc, desc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

/** The LISTEN/NOTIFY channel the indexer signals on when certificate events commit (other replicas wake). */
export const CERTIFICATE_EVENTS_CHANNEL = 'symbeon_chain_certificate_events';

export type CertificateEventRow = typeof schema.certificateEvents.$inferSelect;
export type CertificateRow = typeof schema.certificates.$inferSelect;
type Tx = Db<typeof schema>;

export interface Checkpoint {
  blockNumber: number;
  blockHash: string;
}

/** A decoded log of a followed contract, in chain order. */
export interface IndexedLog {
  blockNumber: number;
  blockHash: string;
  txHash: string;
  logIndex: number;
  address: string;
  eventName: string;
  /** ABI-decoded arguments, bigints as decimal strings. */
  args: Record<string, string>;
  blockTimestamp: Date;
}

export interface RangeCommit {
  chainId: number;
  certificateContract: string;
  expected: Checkpoint;
  to: Checkpoint;
  /** Blocks whose hashes are kept: every block with a log (the range's last block is `to`). */
  blocks: Array<{ blockNumber: number; blockHash: string; timestamp: Date }>;
  logs: IndexedLog[];
  /** Turns a content digest into its CID for event payloads. */
  toCid: (digest: string) => string;
}

const expiry = (seconds: string): Date | null => (seconds === '0' ? null : new Date(Number(seconds) * 1000));

/** Domain event names published through the outbox for each contract event. */
const published: Record<string, string> = {
  CertificateIssued: 'CertificateIssued',
  CertificateRevoked: 'CertificateRevoked',
  CertificateRenewed: 'CertificateRenewed',
  BatchAnchored: 'BatchAnchored',
  BatchLeafRevoked: 'BatchLeafRevoked',
  PaymentReceived: 'PaymentReceived',
};

export function createIndexerStorage(db: Db<typeof schema>) {
  /** Locks the checkpoint row: every indexer write runs under it, so replicas never interleave. */
  async function lockCheckpoint(tx: Tx, chainId: number): Promise<Checkpoint | undefined> {
    const [row] = await tx
      .select()
      .from(schema.indexerCheckpoints)
      .where(eq(schema.indexerCheckpoints.chainId, chainId))
      .for('update');
    return row ? { blockNumber: row.blockNumber, blockHash: row.blockHash } : undefined;
  }

  /** Applies one certificate event to the read model; returns the holder it concerns. */
  async function applyToReadModel(
    tx: Tx,
    chainId: number,
    contract: string,
    type: (typeof schema.certificateEventTypes)[number],
    payload: Record<string, string>,
    blockNumber: number,
    txHash: string,
  ): Promise<string> {
    const key = and(
      eq(schema.certificates.chainId, chainId),
      eq(schema.certificates.tokenId, payload.tokenId!),
    );
    if (type === 'ISSUED') {
      await tx
        .insert(schema.certificates)
        .values({
          chainId,
          tokenId: payload.tokenId!,
          contract,
          holder: payload.holder!,
          issuer: payload.issuer!,
          contentDigest: payload.contentDigest!,
          expiresAt: expiry(payload.expiresAt!),
          issuedBlock: blockNumber,
          issuedTx: txHash,
          updatedBlock: blockNumber,
        })
        .onConflictDoNothing();
      return payload.holder!;
    }
    const [current] = await tx.select().from(schema.certificates).where(key);
    if (type === 'REVOKED') {
      await tx.update(schema.certificates).set({ revoked: true, updatedBlock: blockNumber }).where(key);
    } else {
      await tx
        .update(schema.certificates)
        .set({
          expiresAt: expiry(payload.newExpiresAt!),
          contentDigest: payload.newContentDigest!,
          updatedBlock: blockNumber,
        })
        .where(key);
    }
    return current?.holder ?? '0x0000000000000000000000000000000000000000';
  }

  return {
    async checkpoint(chainId: number): Promise<Checkpoint | undefined> {
      const [row] = await db
        .select()
        .from(schema.indexerCheckpoints)
        .where(eq(schema.indexerCheckpoints.chainId, chainId));
      return row ? { blockNumber: row.blockNumber, blockHash: row.blockHash } : undefined;
    },

    /** The starting point (the block before the deployment), written once. */
    async initCheckpoint(chainId: number, start: Checkpoint): Promise<void> {
      await db.transaction(async (tx) => {
        await tx
          .insert(schema.indexerCheckpoints)
          .values({ chainId, ...start })
          .onConflictDoNothing();
        await tx
          .insert(schema.indexedBlocks)
          .values({ chainId, ...start })
          .onConflictDoNothing();
      });
    },

    /** Stored block hashes at or below `below`, newest first (to find the common ancestor of a reorg). */
    async storedBlocks(chainId: number, below: number, limit: number) {
      return db
        .select()
        .from(schema.indexedBlocks)
        .where(
          and(
            eq(schema.indexedBlocks.chainId, chainId),
            sql`${schema.indexedBlocks.blockNumber} <= ${below}`,
          ),
        )
        .orderBy(desc(schema.indexedBlocks.blockNumber))
        .limit(limit);
    },

    /**
     * Stores one block range: logs (once each), certificate events, the read model, outbox rows, block hashes
     * and the new checkpoint, in one transaction. Returns undefined when the checkpoint moved meanwhile
     * (another replica indexed the range, or a rollback happened): nothing is written then.
     */
    async commitRange(range: RangeCommit): Promise<{ certificateEvents: number } | undefined> {
      return db.transaction(async (tx) => {
        const current = await lockCheckpoint(tx, range.chainId);
        if (
          !current ||
          current.blockNumber !== range.expected.blockNumber ||
          current.blockHash !== range.expected.blockHash
        ) {
          return undefined;
        }
        const blocks = new Map<number, { blockHash: string; timestamp: Date | null }>();
        for (const block of range.blocks) blocks.set(block.blockNumber, block);
        if (!blocks.has(range.to.blockNumber))
          blocks.set(range.to.blockNumber, { blockHash: range.to.blockHash, timestamp: null });
        await tx
          .insert(schema.indexedBlocks)
          .values(
            [...blocks].map(([blockNumber, block]) => ({
              chainId: range.chainId,
              blockNumber,
              blockHash: block.blockHash,
              timestamp: block.timestamp,
            })),
          )
          .onConflictDoUpdate({
            target: [schema.indexedBlocks.chainId, schema.indexedBlocks.blockNumber],
            set: { blockHash: sql`excluded.block_hash`, timestamp: sql`excluded.timestamp` },
          });

        let certificateEvents = 0;
        for (const log of range.logs) {
          const [stored] = await tx
            .insert(schema.chainLogs)
            .values({
              chainId: range.chainId,
              blockNumber: log.blockNumber,
              blockHash: log.blockHash,
              txHash: log.txHash,
              logIndex: log.logIndex,
              address: log.address,
              eventName: log.eventName,
              args: log.args,
            })
            .onConflictDoNothing()
            .returning({ id: schema.chainLogs.id });
          if (!stored) continue;
          const eventType = published[log.eventName];
          if (!eventType) continue;
          const position = {
            blockNumber: log.blockNumber,
            blockHash: log.blockHash,
            txHash: log.txHash,
            logIndex: log.logIndex,
          };
          if (eventType === 'PaymentReceived') {
            // Payments' consumer (subgraphs/payments) matches orderRef to its orders; amount is in the token's
            // smallest unit (wei for the native coin, token = the zero address).
            await recordEvent(tx, schema, eventType, {
              chainId: range.chainId,
              contract: log.address,
              orderRef: log.args.orderRef,
              payer: log.args.payer,
              token: log.args.token,
              amount: log.args.amount,
              occurredAt: log.blockTimestamp.toISOString(),
              ...position,
            });
            continue;
          }
          if (eventType === 'BatchAnchored') {
            await recordEvent(tx, schema, eventType, {
              chainId: range.chainId,
              contract: log.address,
              batchId: log.args.batchId,
              size: Number(log.args.size),
              contentCid: range.toCid(log.args.metadataDigest!),
              issuer: log.args.issuer,
              ...position,
            });
            continue;
          }
          if (eventType === 'BatchLeafRevoked') {
            // One certificate of an anchored batch revoked: certification follows it by batch id and leaf.
            await recordEvent(tx, schema, eventType, {
              chainId: range.chainId,
              contract: log.address,
              batchId: log.args.batchId,
              leaf: log.args.leaf,
              revokedBy: log.args.revokedBy,
              reason: log.args.reason,
              ...position,
            });
            continue;
          }
          const type =
            eventType === 'CertificateIssued'
              ? 'ISSUED'
              : eventType === 'CertificateRevoked'
                ? 'REVOKED'
                : 'RENEWED';
          const holder = await applyToReadModel(
            tx,
            range.chainId,
            log.address,
            type,
            log.args,
            log.blockNumber,
            log.txHash,
          );
          const [certificate] = await tx
            .select()
            .from(schema.certificates)
            .where(
              and(
                eq(schema.certificates.chainId, range.chainId),
                eq(schema.certificates.tokenId, log.args.tokenId!),
              ),
            );
          await tx.insert(schema.certificateEvents).values({
            type,
            chainId: range.chainId,
            contract: log.address,
            tokenId: log.args.tokenId!,
            holder,
            payload: log.args,
            occurredAt: log.blockTimestamp,
            ...position,
          });
          certificateEvents += 1;
          await recordEvent(tx, schema, eventType, {
            chainId: range.chainId,
            contract: log.address,
            tokenId: log.args.tokenId,
            holder,
            contentCid: certificate ? range.toCid(certificate.contentDigest) : null,
            expiresAt: certificate?.expiresAt?.toISOString() ?? null,
            ...(type === 'ISSUED' ? { issuer: log.args.issuer } : {}),
            ...(type === 'REVOKED' ? { reason: log.args.reason, revokedBy: log.args.revokedBy } : {}),
            ...position,
          });
        }
        await tx
          .update(schema.indexerCheckpoints)
          .set({ ...range.to, updatedAt: new Date() })
          .where(eq(schema.indexerCheckpoints.chainId, range.chainId));
        if (certificateEvents > 0) await tx.execute(sql`select pg_notify(${CERTIFICATE_EVENTS_CHANNEL}, '')`);
        return { certificateEvents };
      });
    },

    /**
     * Undoes everything above the common ancestor of a reorganisation: logs, certificate events, block
     * hashes and not yet published outbox rows go; the read model of the certificates concerned is rebuilt
     * from their remaining events; a ChainReorganized event tells consumers which published events to
     * disregard. Returns how many certificate events were removed.
     */
    async rollbackTo(
      chainId: number,
      expected: Checkpoint,
      ancestor: Checkpoint,
    ): Promise<number | undefined> {
      return db.transaction(async (tx) => {
        const current = await lockCheckpoint(tx, chainId);
        if (
          !current ||
          current.blockNumber !== expected.blockNumber ||
          current.blockHash !== expected.blockHash
        )
          return undefined;
        const above = (
          column: typeof schema.chainLogs.blockNumber | typeof schema.certificateEvents.blockNumber,
        ) => sql`${column} > ${ancestor.blockNumber}`;
        const removedLogs = await tx
          .delete(schema.chainLogs)
          .where(and(eq(schema.chainLogs.chainId, chainId), above(schema.chainLogs.blockNumber)))
          .returning({
            txHash: schema.chainLogs.txHash,
            logIndex: schema.chainLogs.logIndex,
            blockHash: schema.chainLogs.blockHash,
            blockNumber: schema.chainLogs.blockNumber,
            address: schema.chainLogs.address,
            eventName: schema.chainLogs.eventName,
          });
        const removedEvents = await tx
          .delete(schema.certificateEvents)
          .where(
            and(eq(schema.certificateEvents.chainId, chainId), above(schema.certificateEvents.blockNumber)),
          )
          .returning({ tokenId: schema.certificateEvents.tokenId });
        await tx
          .delete(schema.indexedBlocks)
          .where(
            and(
              eq(schema.indexedBlocks.chainId, chainId),
              sql`${schema.indexedBlocks.blockNumber} > ${ancestor.blockNumber}`,
            ),
          );
        // Announcements of removed logs that no relay has published yet are simply withdrawn.
        await tx
          .delete(schema.outbox)
          .where(
            and(
              isNull(schema.outbox.publishedAt),
              inArray(schema.outbox.type, Object.values(published)),
              sql`(${schema.outbox.payload}->>'chainId')::int = ${chainId}`,
              sql`(${schema.outbox.payload}->>'blockNumber')::bigint > ${ancestor.blockNumber}`,
            ),
          );
        const tokens = [...new Set(removedEvents.map((event) => event.tokenId))];
        if (tokens.length > 0) {
          await tx
            .delete(schema.certificates)
            .where(
              and(eq(schema.certificates.chainId, chainId), inArray(schema.certificates.tokenId, tokens)),
            );
          const remaining = await tx
            .select()
            .from(schema.certificateEvents)
            .where(
              and(
                eq(schema.certificateEvents.chainId, chainId),
                inArray(schema.certificateEvents.tokenId, tokens),
              ),
            )
            .orderBy(asc(schema.certificateEvents.seq));
          for (const event of remaining) {
            await applyToReadModel(
              tx,
              chainId,
              event.contract,
              event.type,
              event.payload as Record<string, string>,
              event.blockNumber,
              event.txHash,
            );
          }
        }
        if (removedLogs.length > 0) {
          // Each removed log names its contract and event (e.g. PaymentReceived), and its position (block
          // hash, tx hash, log index) is the one the published event carried, so a consumer can find what it
          // must disregard; the event may come back in the replay at another position (then it is republished).
          await recordEvent(tx, schema, 'ChainReorganized', {
            chainId,
            commonAncestor: ancestor,
            removedFromBlock: ancestor.blockNumber + 1,
            removedLogs,
          });
        }
        await tx
          .update(schema.indexerCheckpoints)
          .set({ ...ancestor, updatedAt: new Date() })
          .where(eq(schema.indexerCheckpoints.chainId, chainId));
        return removedEvents.length;
      });
    },

    /**
     * The tokens PaymentReceiver allows now, folded from its indexed TokenAllowedSet logs (so as of the
     * indexed block), checksummed addresses in the order they were first allowed.
     */
    async allowedPaymentTokens(chainId: number, receiver: string): Promise<string[]> {
      const logs = await db
        .select({ args: schema.chainLogs.args })
        .from(schema.chainLogs)
        .where(
          and(
            eq(schema.chainLogs.chainId, chainId),
            eq(schema.chainLogs.address, receiver),
            eq(schema.chainLogs.eventName, 'TokenAllowedSet'),
          ),
        )
        .orderBy(asc(schema.chainLogs.blockNumber), asc(schema.chainLogs.logIndex));
      const allowed = new Map<string, boolean>();
      for (const { args } of logs) {
        const { token, allowed: value } = args as Record<string, string>;
        if (token) allowed.set(token, value === 'true');
      }
      return [...allowed].filter(([, value]) => value).map(([token]) => token);
    },

    async eventsAfter(seq: number, limit: number): Promise<CertificateEventRow[]> {
      return db
        .select()
        .from(schema.certificateEvents)
        .where(gt(schema.certificateEvents.seq, seq))
        .orderBy(asc(schema.certificateEvents.seq))
        .limit(limit);
    },

    async lastEventSeq(): Promise<number> {
      const [row] = await db
        .select({ seq: sql<string | null>`max(${schema.certificateEvents.seq})` })
        .from(schema.certificateEvents);
      return row?.seq ? Number(row.seq) : 0;
    },

    async certificatesByTokenIds(chainId: number, tokenIds: readonly string[]): Promise<CertificateRow[]> {
      if (tokenIds.length === 0) return [];
      return db
        .select()
        .from(schema.certificates)
        .where(
          and(eq(schema.certificates.chainId, chainId), inArray(schema.certificates.tokenId, [...tokenIds])),
        );
    },
  };
}

export type IndexerStorage = ReturnType<typeof createIndexerStorage>;
