import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { eventTables } from '@symbeon/kernel';

export const chain = pgSchema('chain');

/**
 * One row per sending account and chain. Its row lock serialises nonce assignment: a command takes the
 * lock, uses next_nonce, persists the signed transaction and increments it in one database transaction.
 */
export const signers = chain.table(
  'signers',
  {
    chainId: integer('chain_id').notNull(),
    address: text('address').notNull(),
    nextNonce: bigint('next_nonce', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.chainId, table.address] })],
);

export const transactionStatuses = ['PENDING', 'SUBMITTED', 'MINED', 'FAILED', 'REPLACED'] as const;

/** A contract call requested by a command. The idempotency key makes a retried command return this row. */
export const transactions = chain.table(
  'transactions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    /** issue | revoke | renew | anchorBatch | revokeInBatch */
    kind: text('kind').notNull(),
    /** The validated command, to refuse a reused key carrying a different command. */
    command: jsonb('command').notNull(),
    chainId: integer('chain_id').notNull(),
    fromAddress: text('from_address').notNull(),
    toAddress: text('to_address').notNull(),
    data: text('data').notNull(),
    status: text('status', { enum: transactionStatuses }).notNull(),
    /** Null when nothing was sent (refused before signing: the call would revert, gas above the cap). */
    nonce: bigint('nonce', { mode: 'number' }),
    gasLimit: bigint('gas_limit', { mode: 'number' }),
    /** The latest attempt's hash and signed bytes (persisted before broadcasting). */
    hash: text('hash'),
    rawTransaction: text('raw_transaction'),
    maxFeePerGas: text('max_fee_per_gas'),
    maxPriorityFeePerGas: text('max_priority_fee_per_gas'),
    /** Hash of the attempt that was mined (any attempt of the nonce may be). */
    minedHash: text('mined_hash'),
    blockNumber: bigint('block_number', { mode: 'number' }),
    error: text('error'),
    submittedAt: timestamp('submitted_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    index('transactions_listing_idx').on(table.createdAt.desc(), table.id.desc()),
    index('transactions_open_idx')
      .on(table.nonce)
      .where(sql`${table.status} in ('PENDING', 'SUBMITTED')`),
    unique('transactions_nonce_unique').on(table.chainId, table.fromAddress, table.nonce),
  ],
);

/** Every signed version of a transaction: the first, then each fee-bumped replacement (same nonce). */
export const transactionAttempts = chain.table(
  'transaction_attempts',
  {
    hash: text('hash').primaryKey(),
    transactionId: uuid('transaction_id').notNull(),
    rawTransaction: text('raw_transaction').notNull(),
    maxFeePerGas: text('max_fee_per_gas').notNull(),
    maxPriorityFeePerGas: text('max_priority_fee_per_gas').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [index('transaction_attempts_tx_idx').on(table.transactionId)],
);

/** Where the indexer is: the last processed block of a chain, and its hash. */
export const indexerCheckpoints = chain.table('indexer_checkpoints', {
  chainId: integer('chain_id').primaryKey(),
  blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
  blockHash: text('block_hash').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/**
 * Hashes of indexed blocks (each range's last block and every block with a log): compared with the node's
 * to detect a reorganisation and find the common ancestor.
 */
export const indexedBlocks = chain.table(
  'indexed_blocks',
  {
    chainId: integer('chain_id').notNull(),
    blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
    blockHash: text('block_hash').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true, precision: 3 }),
  },
  (table) => [primaryKey({ columns: [table.chainId, table.blockNumber] })],
);

/** Every log of the followed contracts, stored once. */
export const chainLogs = chain.table(
  'chain_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    chainId: integer('chain_id').notNull(),
    blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
    blockHash: text('block_hash').notNull(),
    txHash: text('tx_hash').notNull(),
    logIndex: integer('log_index').notNull(),
    address: text('address').notNull(),
    eventName: text('event_name').notNull(),
    args: jsonb('args').notNull(),
  },
  (table) => [
    unique('chain_logs_once').on(table.chainId, table.blockHash, table.logIndex),
    index('chain_logs_block_idx').on(table.chainId, table.blockNumber),
  ],
);

export const certificateEventTypes = ['ISSUED', 'REVOKED', 'RENEWED'] as const;

/**
 * The certificate event log Subscription.certificateEvents replays from. `seq` is the cursor: written only
 * by the indexer under the checkpoint's row lock, so sequence order is commit order.
 */
export const certificateEvents = chain.table(
  'certificate_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    type: text('type', { enum: certificateEventTypes }).notNull(),
    chainId: integer('chain_id').notNull(),
    contract: text('contract').notNull(),
    tokenId: text('token_id').notNull(),
    holder: text('holder').notNull(),
    blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
    blockHash: text('block_hash').notNull(),
    txHash: text('tx_hash').notNull(),
    logIndex: integer('log_index').notNull(),
    /** What the read model needs to be rebuilt after a reorganisation. */
    payload: jsonb('payload').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (table) => [
    unique('certificate_events_once').on(table.chainId, table.blockHash, table.logIndex),
    index('certificate_events_token_idx').on(table.tokenId, table.seq),
    index('certificate_events_block_idx').on(table.chainId, table.blockNumber),
  ],
);

/** Read model of on-chain certificates, maintained by the indexer from certificate_events. */
export const certificates = chain.table(
  'certificates',
  {
    chainId: integer('chain_id').notNull(),
    tokenId: text('token_id').notNull(),
    contract: text('contract').notNull(),
    holder: text('holder').notNull(),
    issuer: text('issuer').notNull(),
    contentDigest: text('content_digest').notNull(),
    /** Null: never expires. */
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
    revoked: boolean('revoked').notNull().default(false),
    issuedBlock: bigint('issued_block', { mode: 'number' }).notNull(),
    issuedTx: text('issued_tx').notNull(),
    updatedBlock: bigint('updated_block', { mode: 'number' }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.chainId, table.tokenId] }),
    index('certificates_holder_idx').on(table.holder),
  ],
);

export const { outbox, processedEvents } = eventTables(chain);
