import { randomUUID } from 'node:crypto';
import { and, asc, inArray, isNull, lt, sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  jsonb,
  primaryKey,
  text,
  timestamp,
  uuid,
  type PgSchema,
} from 'drizzle-orm/pg-core';
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import type { DeliveredEvent, EventEnvelope, EventTransport, Subscription } from './event-transport.js';

/**
 * The two tables every subgraph that produces or consumes events carries in its own Postgres schema.
 * Spread them into the subgraph's db/schema.ts so drizzle-kit generates their migrations.
 */
export function eventTables(schema: PgSchema) {
  const outbox = schema.table(
    'outbox',
    {
      // Publication order; ids are random.
      seq: bigserial('seq', { mode: 'number' }).primaryKey(),
      id: uuid('id').notNull().unique(),
      type: text('type').notNull(),
      payload: jsonb('payload').notNull(),
      occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
      // Written only by the relay.
      publishedAt: timestamp('published_at', { withTimezone: true }),
    },
    (table) => [
      index('outbox_unpublished_idx')
        .on(table.seq)
        .where(sql`${table.publishedAt} is null`),
    ],
  );
  const processedEvents = schema.table(
    'processed_events',
    {
      consumer: text('consumer').notNull(),
      eventId: uuid('event_id').notNull(),
      processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (table) => [primaryKey({ columns: [table.consumer, table.eventId] })],
  );
  return { outbox, processedEvents };
}

export type EventTables = ReturnType<typeof eventTables>;

/** Any drizzle database or transaction: events are written with the state change they announce. */
type Executor = Pick<Db, 'insert' | 'select' | 'update' | 'delete' | 'execute'>;

/**
 * Records an event in the outbox. Call it inside the transaction that makes the change, so the change and
 * its announcement commit or roll back together.
 */
export async function recordEvent<TPayload>(
  tx: Executor,
  tables: EventTables,
  type: string,
  payload: TPayload,
): Promise<EventEnvelope<TPayload>> {
  const id = randomUUID();
  const occurredAt = new Date();
  await tx.insert(tables.outbox).values({ id, type, payload, occurredAt });
  // Wakes the relays when (and only if) the transaction commits; they also poll, slowly, in case one is missed.
  await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return { id, type, payload, occurredAt: occurredAt.toISOString() };
}

/** The LISTEN/NOTIFY channel recordEvent signals on. */
export const OUTBOX_CHANNEL = 'symbeon_outbox';

export interface OutboxRelayOptions {
  db: Db;
  tables: EventTables;
  transport: EventTransport;
  logger: Logger;
  /**
   * LISTEN on the database (Database.listen): the relay publishes as soon as an event commits instead of
   * waiting for its next poll.
   */
  listen?: (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;
  /** How often to look for unpublished events anyway (default 100 ms; 1 s when `listen` is given). */
  pollMs?: number;
  batchSize?: number;
  /** Published rows are deleted after this long (default 7 days). */
  retentionMs?: number;
}

export interface OutboxRelay {
  /** Publishes everything pending now; resolves with how many events were published. */
  flush(): Promise<number>;
  /** Resolves once the relay LISTENs (at once without `listen`): from then on commits wake it. */
  listening: Promise<void>;
  close(): Promise<void>;
}

/**
 * Moves committed outbox rows to the transport. Rows are locked with SKIP LOCKED so several relays
 * (replicas) never publish the same row concurrently; a crash after publishing and before marking the row
 * republishes it, which consumers absorb through their processed-events table.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, tables, transport, logger } = options;
  const pollMs = options.pollMs ?? (options.listen ? 1_000 : 100);
  const batchSize = options.batchSize ?? 100;
  const retentionMs = options.retentionMs ?? 7 * 24 * 3600_000;
  let closed = false;
  let running: Promise<number> | undefined;
  let lastPurge = 0;

  async function publishBatch(): Promise<number> {
    return db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(tables.outbox)
        .where(isNull(tables.outbox.publishedAt))
        .orderBy(asc(tables.outbox.seq))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      if (rows.length === 0) return 0;
      for (const row of rows) {
        await transport.publish({
          id: row.id,
          type: row.type,
          occurredAt: row.occurredAt.toISOString(),
          payload: row.payload,
        });
      }
      await tx
        .update(tables.outbox)
        .set({ publishedAt: new Date() })
        .where(
          inArray(
            tables.outbox.seq,
            rows.map((row) => row.seq),
          ),
        );
      return rows.length;
    });
  }

  async function flush(): Promise<number> {
    // One pass at a time per relay; callers share the pass in progress.
    if (running) return running;
    running = (async () => {
      let total = 0;
      for (;;) {
        const published = await publishBatch();
        total += published;
        if (published < batchSize) break;
      }
      if (Date.now() - lastPurge > 3600_000) {
        lastPurge = Date.now();
        await db
          .delete(tables.outbox)
          .where(and(lt(tables.outbox.publishedAt, new Date(Date.now() - retentionMs))));
      }
      return total;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    try {
      await flush();
    } catch (error) {
      logger.error({ err: error }, 'outbox relay pass failed; retrying');
    }
    if (!closed) timer = setTimeout(() => void loop(), pollMs);
  };
  timer = setTimeout(() => void loop(), 0);
  const unlisten = options
    .listen?.(OUTBOX_CHANNEL, () => void loop())
    .catch((error: unknown) => {
      logger.warn({ err: error }, 'outbox relay cannot LISTEN; polling only');
      return undefined;
    });

  return {
    flush,
    listening: (unlisten ?? Promise.resolve()).then(() => undefined),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await (
        await unlisten
      )?.();
      await running?.catch(() => undefined);
    },
  };
}

export interface ConsumerOptions<TDb extends Db> {
  db: TDb;
  tables: EventTables;
  transport: EventTransport;
  /** Stable consumer name; also the transport's consumer group. */
  consumer: string;
  types: readonly string[];
  /** Runs inside the transaction that records the event as processed: both commit or neither. */
  handle: (event: DeliveredEvent, tx: TDb) => Promise<void>;
  maxAttempts?: number;
  retryDelayMs?: number;
}

/** Subscribes a handler that sees each event at most once, however often the transport delivers it. */
export function consumeEvents<TDb extends Db>(options: ConsumerOptions<TDb>): Promise<Subscription> {
  const { db, tables, consumer } = options;
  return options.transport.subscribe(
    async (event) => {
      await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(tables.processedEvents)
          .values({ consumer, eventId: event.id })
          .onConflictDoNothing()
          .returning({ eventId: tables.processedEvents.eventId });
        if (inserted.length === 0) return;
        await options.handle(event, tx as unknown as TDb);
      });
    },
    {
      group: consumer,
      types: options.types,
      ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
    },
  );
}
