import { and, eq } from 'drizzle-orm';
import { DomainError, type Db, type EventTransport, type Logger, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import type { TransactionsManager } from '../transactions/transactions-manager.js';

/** certification's command, as it records it (a contract between the two subgraphs, not an import). */
export const ChainCommandRequested = 'certification.ChainCommandRequested';

const CONSUMER = 'chain.commands';

const commandId = z.string().trim().min(1).max(200);
const chainCommand = z.discriminatedUnion('kind', [
  z.object({
    commandId,
    kind: z.literal('issue'),
    holder: z.string(),
    contentCid: z.string(),
    expiresAt: z.string().nullable(),
  }),
  z.object({ commandId, kind: z.literal('revoke'), tokenId: z.string(), reason: z.string() }),
  z.object({
    commandId,
    kind: z.literal('renew'),
    tokenId: z.string(),
    contentCid: z.string(),
    expiresAt: z.string().nullable(),
  }),
  // A Merkle batch of certificates: root, leaf count, and the CID of the batch's manifest (anchored as its
  // sha-256 digest, like an issue's content CID). The transaction manager validates the values.
  z.object({
    commandId,
    kind: z.literal('anchorBatch'),
    merkleRoot: z.string(),
    size: z.number().int(),
    metadataCid: z.string(),
  }),
  z.object({
    commandId,
    kind: z.literal('revokeInBatch'),
    batchId: z.string(),
    leaf: z.string(),
    reason: z.string(),
  }),
]);
type ChainCommandPayload = z.infer<typeof chainCommand>;

/** The transaction manager's command for one bus command, keyed by its command id. */
function toSubmission(command: ChainCommandPayload): Parameters<TransactionsManager['submit']>[0] {
  const idempotencyKey = command.commandId;
  switch (command.kind) {
    case 'issue': {
      const { holder, contentCid, expiresAt } = command;
      return { kind: 'issue', holder, contentCid, expiresAt, idempotencyKey };
    }
    case 'revoke':
      return { kind: 'revoke', tokenId: command.tokenId, reason: command.reason, idempotencyKey };
    case 'renew': {
      const { tokenId, contentCid, expiresAt } = command;
      return { kind: 'renew', tokenId, contentCid, expiresAt, idempotencyKey };
    }
    case 'anchorBatch': {
      const { merkleRoot, size, metadataCid } = command;
      return { kind: 'anchorBatch', merkleRoot, size, metadataCid, idempotencyKey };
    }
    case 'revokeInBatch': {
      const { batchId, leaf, reason } = command;
      return { kind: 'revokeInBatch', batchId, leaf, reason, idempotencyKey };
    }
  }
}

/**
 * Sends the contract calls other subgraphs ask for on the bus (issue, revoke, renew, anchorBatch, revokeInBatch), once per
 * command id (the transaction
 * manager's idempotency key).
 *
 * Not kernel's consumeEvents: its handler runs inside the database transaction that marks the event
 * processed, and `submit` talks to the node and runs transactions of its own under the signer's row lock —
 * holding a transaction open across RPC calls, and on the embedded single-connection PGlite waiting on
 * itself. So: skip what is marked processed, submit (idempotent by command id: a second delivery, even a
 * concurrent one, finds the transaction of the first and sends nothing), then mark it processed. A crash
 * between the two only means a redelivery that submit absorbs.
 */
export function consumeChainCommands(options: {
  db: Db<typeof schema>;
  transport: EventTransport;
  transactions: Pick<TransactionsManager, 'submit'>;
  logger: Logger;
}): Promise<Subscription> {
  const { db, transactions, logger } = options;
  const processed = schema.processedEvents;
  const markProcessed = (eventId: string) =>
    db.insert(processed).values({ consumer: CONSUMER, eventId }).onConflictDoNothing();

  return options.transport.subscribe(
    async (event) => {
      const [done] = await db
        .select({ eventId: processed.eventId })
        .from(processed)
        .where(and(eq(processed.consumer, CONSUMER), eq(processed.eventId, event.id)));
      if (done) return;
      const parsed = chainCommand.safeParse(event.payload);
      if (!parsed.success) {
        // Retrying cannot fix a malformed command: recorded loudly, not retried.
        logger.error({ eventId: event.id, issues: parsed.error.issues }, 'malformed chain command dropped');
        await markProcessed(event.id);
        return;
      }
      const { commandId, kind } = parsed.data;
      try {
        const row = await transactions.submit(toSubmission(parsed.data));
        if (row.status === 'FAILED' && row.nonce === null) {
          // Refused before sending (would revert, gas cap): not sent yet. Redelivered with backoff; the
          // transport parks it after its last attempt.
          throw new Error(`chain command ${commandId} refused: ${row.error ?? 'unknown reason'}`);
        }
        logger.info({ commandId, kind, transactionId: row.id, status: row.status }, 'chain command accepted');
      } catch (error) {
        if (error instanceof DomainError) {
          // Bad input or the key reused for another command: the same again would be refused again.
          logger.error({ commandId, code: error.code, err: error }, 'chain command refused for good');
          await markProcessed(event.id);
          return;
        }
        throw error;
      }
      await markProcessed(event.id);
    },
    { group: CONSUMER, types: [ChainCommandRequested] },
  );
}
