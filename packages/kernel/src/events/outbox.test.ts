import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { eq, isNull } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../testing/database.js';
import type { DeliveredEvent, EventEnvelope } from './event-transport.js';
import { createMemoryEventTransport } from './memory-transport.js';
import { consumeEvents, recordEvent, startOutboxRelay } from './outbox.js';
import * as schema from './test-fixtures/schema.js';

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
const logger = pino({ level: 'silent' });
let database: TestDatabase<typeof schema>;

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'outbox_fixture',
    migrationsFolder: path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-fixtures/migrations'),
    schema,
  });
});

afterAll(async () => {
  await database?.close();
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('transactional outbox', () => {
  it('writes the event with the state change, and neither when the transaction rolls back', async () => {
    const { db } = database;
    const type = `test.NoteWritten.${randomUUID()}`;
    await db.transaction(async (tx) => {
      await tx.insert(schema.notes).values({ text: 'kept' });
      await recordEvent(tx, tables, type, { text: 'kept' });
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(schema.notes).values({ text: 'lost' });
        await recordEvent(tx, tables, type, { text: 'lost' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const events = await db.select().from(schema.outbox).where(eq(schema.outbox.type, type));
    expect(events.map((event) => event.payload)).toEqual([{ text: 'kept' }]);
    const notes = await db.select().from(schema.notes);
    expect(notes.map((note) => note.text)).toContain('kept');
    expect(notes.map((note) => note.text)).not.toContain('lost');
  });

  it('relays committed events in order and marks them published', async () => {
    const { db } = database;
    const transport = createMemoryEventTransport();
    const type = `test.Ordered.${randomUUID()}`;
    const received: unknown[] = [];
    const subscription = await transport.subscribe(
      async (event) => {
        received.push(event.payload);
      },
      { group: 'order-check', types: [type] },
    );
    for (let index = 0; index < 5; index += 1) {
      await db.transaction((tx) => recordEvent(tx, tables, type, { index }));
    }
    const relay = startOutboxRelay({ db, tables, transport, logger, pollMs: 10 });
    await waitFor(() => received.length === 5);
    expect(received).toEqual([0, 1, 2, 3, 4].map((index) => ({ index })));
    const pending = await db.select().from(schema.outbox).where(isNull(schema.outbox.publishedAt));
    expect(pending.filter((row) => row.type === type)).toHaveLength(0);
    await relay.close();
    await subscription.close();
    await transport.close();
  });

  it('publishes as soon as the transaction commits when the relay LISTENs, without waiting for a poll', async () => {
    const { db } = database;
    const transport = createMemoryEventTransport();
    const type = `test.Woken.${randomUUID()}`;
    const received: number[] = [];
    const subscription = await transport.subscribe(
      async () => {
        received.push(Date.now());
      },
      { group: 'wake-check', types: [type] },
    );
    const relay = startOutboxRelay({
      db,
      tables,
      transport,
      logger,
      listen: database.listen,
      pollMs: 60_000,
    });
    await relay.listening;
    await relay.flush();
    const committed = Date.now();
    await db.transaction((tx) => recordEvent(tx, tables, type, {}));
    await waitFor(() => received.length === 1, 3_000);
    expect(received[0]! - committed).toBeLessThan(3_000);
    await relay.close();
    await subscription.close();
    await transport.close();
  });

  it('republishes after a crash between publishing and marking, and consumers still apply it once', async () => {
    const { db } = database;
    const type = `test.Crash.${randomUUID()}`;
    await db.transaction((tx) => recordEvent(tx, tables, type, { value: 1 }));
    // A transport that accepts the event and then "crashes" the relay before the row is marked.
    const inner = createMemoryEventTransport();
    let failNext = true;
    const crashing = {
      ...inner,
      publish: async (event: EventEnvelope) => {
        await inner.publish(event);
        if (failNext) {
          failNext = false;
          throw new Error('relay died after publishing');
        }
      },
      subscribe: inner.subscribe.bind(inner),
      close: inner.close.bind(inner),
    };
    const applied: DeliveredEvent[] = [];
    const consumer = await consumeEvents({
      db,
      tables,
      transport: inner,
      consumer: 'crash-check',
      types: [type],
      handle: async (event, tx) => {
        applied.push(event);
        await tx.insert(schema.notes).values({ text: `applied ${event.id}` });
      },
    });
    const relay = startOutboxRelay({ db, tables, transport: crashing, logger, pollMs: 10 });
    await waitFor(async () => {
      const rows = await db.select().from(schema.outbox).where(eq(schema.outbox.type, type));
      return rows.every((row) => row.publishedAt !== null);
    });
    await waitFor(() => applied.length > 0);
    // Long enough for a duplicate delivery to have been applied, had the consumer not de-duplicated it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(applied).toHaveLength(1);
    const processed = await db
      .select()
      .from(schema.processedEvents)
      .where(eq(schema.processedEvents.consumer, 'crash-check'));
    expect(processed).toHaveLength(1);
    await relay.close();
    await consumer.close();
    await inner.close();
  });

  it('rolls back the handler and the processed mark together when the handler fails, then retries', async () => {
    const { db } = database;
    const transport = createMemoryEventTransport();
    const type = `test.Retry.${randomUUID()}`;
    let attempts = 0;
    const consumer = await consumeEvents({
      db,
      tables,
      transport,
      consumer: 'retry-check',
      types: [type],
      retryDelayMs: 10,
      handle: async (event, tx) => {
        attempts += 1;
        await tx.insert(schema.notes).values({ text: `attempt ${attempts} of ${event.id}` });
        if (attempts === 1) throw new Error('transient failure');
      },
    });
    const id = randomUUID();
    await transport.publish({ id, type, occurredAt: new Date().toISOString(), payload: {} });
    await waitFor(() => attempts === 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const notes = await db.select().from(schema.notes);
    expect(notes.some((note) => note.text === `attempt 1 of ${id}`)).toBe(false);
    expect(notes.some((note) => note.text === `attempt 2 of ${id}`)).toBe(true);
    await consumer.close();
    await transport.close();
  });
});
