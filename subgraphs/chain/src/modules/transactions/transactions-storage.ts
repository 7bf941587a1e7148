import DataLoader from 'dataloader';
import { and, asc, desc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

/**
 * Announced (outbox) when a command's transaction ends without effect: refused before sending (REFUSED: the
 * call would revert, fees above the cap; the same command id may be sent again), reverted on chain (REVERTED)
 * or its nonce taken by another transaction (REPLACED) — both final for that command id. The subgraph that
 * asked (certification, by the command id it chose) decides what to do.
 */
export const ChainCommandFailed = 'ChainCommandFailed';
export interface ChainCommandFailedPayload {
  commandId: string;
  kind: string;
  transactionId: string;
  outcome: 'REFUSED' | 'REVERTED' | 'REPLACED';
  error: string | null;
  hash: string | null;
  /** The same command id can be sent again (nothing was sent under it). */
  retryable: boolean;
}

async function announceFailure(tx: Pick<Db<typeof schema>, 'insert'>, row: TransactionRow): Promise<void> {
  const outcome = row.status === 'REPLACED' ? 'REPLACED' : row.nonce === null ? 'REFUSED' : 'REVERTED';
  await recordEvent<ChainCommandFailedPayload>(tx as Db<typeof schema>, schema, ChainCommandFailed, {
    commandId: row.idempotencyKey,
    kind: row.kind,
    transactionId: row.id,
    outcome,
    error: row.error,
    hash: row.minedHash ?? row.hash,
    retryable: outcome === 'REFUSED',
  });
}

export type TransactionRow = typeof schema.transactions.$inferSelect;
export type NewTransaction = typeof schema.transactions.$inferInsert;
export type TransactionStatus = (typeof schema.transactionStatuses)[number];
export type AttemptRow = typeof schema.transactionAttempts.$inferSelect;
type Tx = Db<typeof schema>;

export interface TransactionListQuery {
  limit: number;
  after?: { createdAt: Date; id: string } | undefined;
  status?: TransactionStatus | undefined;
}

export function createTransactionsStorage(db: Db<typeof schema>) {
  return {
    async findByKey(idempotencyKey: string): Promise<TransactionRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.transactions)
        .where(eq(schema.transactions.idempotencyKey, idempotencyKey));
      return row;
    },

    async findByIds(ids: readonly string[]): Promise<TransactionRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.transactions)
        .where(inArray(schema.transactions.id, [...ids]));
    },

    async list(query: TransactionListQuery): Promise<TransactionRow[]> {
      const conditions: SQL[] = [];
      if (query.status) conditions.push(eq(schema.transactions.status, query.status));
      if (query.after) {
        conditions.push(
          or(
            lt(schema.transactions.createdAt, query.after.createdAt),
            and(
              eq(schema.transactions.createdAt, query.after.createdAt),
              lt(schema.transactions.id, query.after.id),
            ),
          )!,
        );
      }
      return db
        .select()
        .from(schema.transactions)
        .where(conditions.length > 0 ? and(...conditions) : undefined)
        .orderBy(desc(schema.transactions.createdAt), desc(schema.transactions.id))
        .limit(query.limit);
    },

    /** Makes the signer row exist with at least `nonce` (the node's pending count) as its next nonce. */
    async reconcileSigner(chainId: number, address: string, pendingNonce: number): Promise<number> {
      const [row] = await db
        .insert(schema.signers)
        .values({ chainId, address, nextNonce: pendingNonce })
        .onConflictDoUpdate({
          target: [schema.signers.chainId, schema.signers.address],
          set: {
            nextNonce: sql`greatest(${schema.signers.nextNonce}, ${pendingNonce})`,
            updatedAt: new Date(),
          },
        })
        .returning();
      return row!.nextNonce;
    },

    /**
     * Runs `body` holding the signer's row lock (SELECT ... FOR UPDATE): nonce assignment, the idempotency
     * check and the insert of the signed transaction happen under it, so concurrent commands get distinct,
     * gap-free nonces and a retried key never sends twice. `body` returns the row to insert (or an existing
     * one); when the inserted row uses the nonce, the signer's next nonce advances in the same transaction.
     * With `retryOf`, the row of a command refused before anything was sent (FAILED, no nonce) is rewritten
     * in place instead: same id, same key, new outcome.
     */
    async underSignerLock(
      chainId: number,
      address: string,
      body: (
        tx: Tx,
        nextNonce: number,
      ) => Promise<
        | { existing: TransactionRow }
        | {
            insert: NewTransaction;
            attempt?: Omit<AttemptRow, 'createdAt' | 'transactionId'>;
            retryOf?: string;
          }
      >,
    ): Promise<{ row: TransactionRow; created: boolean }> {
      return db.transaction(async (tx) => {
        const [signer] = await tx
          .select()
          .from(schema.signers)
          .where(and(eq(schema.signers.chainId, chainId), eq(schema.signers.address, address)))
          .for('update');
        if (!signer) throw new Error(`signer ${address} on chain ${chainId} is not reconciled yet`);
        const outcome = await body(tx, signer.nextNonce);
        if ('existing' in outcome) return { row: outcome.existing, created: false };
        const [row] = outcome.retryOf
          ? await tx
              .update(schema.transactions)
              .set({ error: null, ...outcome.insert, updatedAt: new Date() })
              .where(
                and(
                  eq(schema.transactions.id, outcome.retryOf),
                  eq(schema.transactions.status, 'FAILED'),
                  isNull(schema.transactions.nonce),
                ),
              )
              .returning()
          : await tx.insert(schema.transactions).values(outcome.insert).returning();
        // A refused row is written only here, under this lock (update() moves open rows only): the row
        // `body` read cannot have changed since.
        if (!row) throw new Error(`transaction ${outcome.retryOf} is no longer a refused command`);
        if (row.status === 'FAILED') await announceFailure(tx, row);
        if (outcome.attempt) {
          await tx.insert(schema.transactionAttempts).values({ ...outcome.attempt, transactionId: row.id });
        }
        if (outcome.insert.nonce !== null && outcome.insert.nonce !== undefined) {
          await tx
            .update(schema.signers)
            .set({ nextNonce: outcome.insert.nonce + 1, updatedAt: new Date() })
            .where(and(eq(schema.signers.chainId, chainId), eq(schema.signers.address, address)));
        }
        return { row, created: true };
      });
    },

    async findByKeyIn(tx: Tx, idempotencyKey: string): Promise<TransactionRow | undefined> {
      const [row] = await tx
        .select()
        .from(schema.transactions)
        .where(eq(schema.transactions.idempotencyKey, idempotencyKey));
      return row;
    },

    /** Transactions sent or to be sent and not settled yet, in nonce order. */
    async open(chainId: number, address: string): Promise<TransactionRow[]> {
      return db
        .select()
        .from(schema.transactions)
        .where(
          and(
            eq(schema.transactions.chainId, chainId),
            eq(schema.transactions.fromAddress, address),
            inArray(schema.transactions.status, ['PENDING', 'SUBMITTED']),
          ),
        )
        .orderBy(asc(schema.transactions.nonce));
    },

    async attempts(transactionId: string): Promise<AttemptRow[]> {
      return db
        .select()
        .from(schema.transactionAttempts)
        .where(eq(schema.transactionAttempts.transactionId, transactionId))
        .orderBy(asc(schema.transactionAttempts.createdAt));
    },

    /**
     * A fee-bumped replacement (same nonce), persisted before it is broadcast. Compare-and-set on the latest
     * attempt: it is recorded only if the transaction is still SUBMITTED with `expectedHash` as its latest
     * hash, so when two replicas replace the same attempt at once exactly one of them wins (the other's
     * UPDATE waits for the winner's commit, then matches no row). False: lost the race or already settled;
     * nothing was written and nothing may be broadcast.
     */
    async addAttempt(attempt: Omit<AttemptRow, 'createdAt'>, expectedHash: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const updated = await tx
          .update(schema.transactions)
          .set({
            hash: attempt.hash,
            rawTransaction: attempt.rawTransaction,
            maxFeePerGas: attempt.maxFeePerGas,
            maxPriorityFeePerGas: attempt.maxPriorityFeePerGas,
            submittedAt: new Date(),
            updatedAt: new Date(),
          })
          .where(
            and(
              eq(schema.transactions.id, attempt.transactionId),
              eq(schema.transactions.hash, expectedHash),
              eq(schema.transactions.status, 'SUBMITTED'),
            ),
          )
          .returning({ id: schema.transactions.id });
        if (updated.length === 0) return false;
        await tx.insert(schema.transactionAttempts).values(attempt);
        return true;
      });
    },

    /** Moves an open transaction on; a settled one (MINED, FAILED, REPLACED) never changes again. */
    async update(
      id: string,
      change: Partial<Pick<TransactionRow, 'status' | 'minedHash' | 'blockNumber' | 'error' | 'submittedAt'>>,
    ): Promise<void> {
      await db.transaction(async (tx) => {
        const [row] = await tx
          .update(schema.transactions)
          .set({ ...change, updatedAt: new Date() })
          .where(
            and(
              eq(schema.transactions.id, id),
              inArray(schema.transactions.status, ['PENDING', 'SUBMITTED']),
            ),
          )
          .returning();
        if (row && (row.status === 'FAILED' || row.status === 'REPLACED')) await announceFailure(tx, row);
      });
    },
  };
}

export type TransactionsStorage = ReturnType<typeof createTransactionsStorage>;

export function createTransactionLoaders(storage: TransactionsStorage) {
  return {
    transactionById: new DataLoader<string, TransactionRow | null>(async (ids) => {
      const rows = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => rows.get(id) ?? null);
    }),
  };
}
