import { randomUUID } from 'node:crypto';
import { createMemoryEventTransport, type EventEnvelope, type Subscription } from '@symbeon/kernel';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, type PaymentsFixture } from '../../test-fixture.js';
import { consumeCatalogueEvents, ProgrammeEvents } from './catalogue-consumer.js';

// certification's programme events through the in-process bus into payments' catalogue projection.
let fixture: PaymentsFixture;
let subscription: Subscription;
const transport = createMemoryEventTransport();

beforeAll(async () => {
  fixture = await openPaymentsFixture();
  subscription = await consumeCatalogueEvents(fixture.database.db, transport);
});

afterAll(async () => {
  await subscription?.close();
  await fixture?.close();
});

const event = (type: string, payload: unknown, occurredAt: Date): EventEnvelope => ({
  id: randomUUID(),
  type,
  payload,
  occurredAt: occurredAt.toISOString(),
});

const item = async (programmeId: string) => {
  const [row] = await fixture.database.db
    .select()
    .from(schema.catalogueItems)
    .where(eq(schema.catalogueItems.itemId, programmeId));
  return row;
};

async function until(check: () => Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the consumer did not catch up');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('catalogue consumer', () => {
  it('projects published, updated and archived programmes; redeliveries and older events change nothing', async () => {
    const programmeId = randomUUID();
    const t0 = new Date('2026-01-01T00:00:00Z');
    const published = event(
      ProgrammeEvents.Published,
      { programmeId, slug: 'pro', name: 'Professional', priceAmountMinor: '4900', currency: 'EUR' },
      t0,
    );
    await transport.publish(published);
    await until(async () => (await item(programmeId)) !== undefined);
    expect(await item(programmeId)).toMatchObject({
      name: 'Professional',
      priceAmountMinor: 4900n,
      currency: 'EUR',
      status: 'AVAILABLE',
    });
    const buyer = await fixture.buyer();
    const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
    expect(order.amountMinor).toBe(4900n);

    const updated = event(
      ProgrammeEvents.Updated,
      { programmeId, slug: 'pro', name: 'Professional II', priceAmountMinor: '5900', currency: 'EUR' },
      new Date(t0.getTime() + 2000),
    );
    await transport.publish(updated);
    await until(async () => (await item(programmeId))?.name === 'Professional II');
    // An older update delivered late, and the same event again: nothing changes.
    await transport.publish(
      event(
        ProgrammeEvents.Updated,
        { programmeId, slug: 'pro', name: 'Stale', priceAmountMinor: '100', currency: 'EUR' },
        new Date(t0.getTime() + 1000),
      ),
    );
    await transport.publish({ ...updated, payload: { ...(updated.payload as object), name: 'Replayed' } });
    const marker = randomUUID();
    await transport.publish(
      event(
        ProgrammeEvents.Published,
        { programmeId: marker, slug: 'marker', priceAmountMinor: null, currency: null },
        t0,
      ),
    );
    await until(async () => (await item(marker)) !== undefined);
    expect(await item(programmeId)).toMatchObject({ name: 'Professional II', priceAmountMinor: 5900n });
    // The open order keeps the price it was made at.
    expect((await fixture.modules.orders.createOrder(buyer, { programmeId })).order.amountMinor).toBe(4900n);
    // A free programme (old payload without a name: the slug stands in) cannot be ordered.
    expect(await item(marker)).toMatchObject({ name: 'marker', priceAmountMinor: null, status: 'AVAILABLE' });

    await transport.publish(
      event(ProgrammeEvents.Archived, { programmeId, slug: 'pro' }, new Date(t0.getTime() + 3000)),
    );
    await until(async () => (await item(programmeId))?.status === 'ARCHIVED');
    expect(await item(programmeId)).toMatchObject({ name: 'Professional II', priceAmountMinor: 5900n });
    await expect(
      fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId }),
    ).rejects.toMatchObject({ code: 'ITEM_UNAVAILABLE' });
  });

  it('keeps a programme updated before it was published unlisted', async () => {
    const programmeId = randomUUID();
    await transport.publish(
      event(
        ProgrammeEvents.Updated,
        { programmeId, slug: 'draft', name: 'Draft', priceAmountMinor: '1000', currency: 'USD' },
        new Date(),
      ),
    );
    await until(async () => (await item(programmeId)) !== undefined);
    expect(await item(programmeId)).toMatchObject({ status: 'UNLISTED', priceAmountMinor: 1000n });
    await expect(
      fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId }),
    ).rejects.toMatchObject({ code: 'ITEM_UNAVAILABLE' });
  });
});
