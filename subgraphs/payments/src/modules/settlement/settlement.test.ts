import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, type PaymentsFixture } from '../../test-fixture.js';

let fixture: PaymentsFixture;

beforeAll(async () => {
  fixture = await openPaymentsFixture();
});

afterEach(async () => {
  await fixture.expectLedgerBalanced();
});

afterAll(async () => {
  await fixture?.close();
});

async function openOrder(amountMinor = 4900n) {
  const buyer = await fixture.buyer();
  const programmeId = await fixture.programme({ amountMinor, currency: 'EUR' });
  const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
  return { buyer, order };
}

const payment = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  provider: 'STRIPE' as const,
  providerPaymentId: `pi_${randomUUID()}`,
  amountMinor: 4900n,
  currency: 'EUR',
  receivedAt: new Date(),
  ...extra,
});

describe('settle', () => {
  it('settles the same provider payment three times into one payment, one invoice, one set of ledger lines', async () => {
    const { order } = await openOrder();
    const input = payment(order.id);
    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(await fixture.modules.settlement.settle(input));
    const [first, second, third] = results;
    if (!first?.ok || !second?.ok || !third?.ok) throw new Error('settle failed');
    expect(first.duplicate).toBe(false);
    expect([second.duplicate, third.duplicate]).toEqual([true, true]);
    expect(first.order.status).toBe('PAID');
    expect(second.payment.id).toBe(first.payment.id);
    expect(third.invoice?.number).toBe(first.invoice?.number);
    expect(first.invoice?.number).toMatch(/^SYM-\d{4}-\d{6}$/);
    const db = fixture.database.db;
    expect(
      await db.select().from(schema.paymentsTable).where(eq(schema.paymentsTable.orderId, order.id)),
    ).toHaveLength(1);
    expect(await db.select().from(schema.invoices).where(eq(schema.invoices.orderId, order.id))).toHaveLength(
      1,
    );
    expect(
      await db.select().from(schema.journalEntries).where(eq(schema.journalEntries.orderId, order.id)),
    ).toHaveLength(2);
    const events = await db.select().from(schema.outbox);
    expect(
      events.filter((event) => (event.payload as { orderId?: string }).orderId === order.id),
    ).toHaveLength(1);
  });
});
