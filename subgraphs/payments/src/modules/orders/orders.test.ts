import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, userPrincipal, type PaymentsFixture } from '../../test-fixture.js';
import { createCatalogueStorage } from '../catalogue/catalogue-storage.js';

// The orders manager over real storage on a real database (PostgreSQL when reachable, PGlite otherwise).
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

const ordersCount = async () => (await fixture.database.db.select().from(schema.orders)).length;

describe('createOrder', () => {
  it('creates one open order per buyer and programme, at the catalogue price, even under concurrency', async () => {
    const buyer = await fixture.buyer();
    const programmeId = await fixture.programme({ amountMinor: 4900n, currency: 'EUR' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => fixture.modules.orders.createOrder(buyer, { programmeId })),
    );
    const ids = new Set(results.map((result) => result.order.id));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(results[0]?.order).toMatchObject({
      buyerId: buyer.userId,
      itemType: 'programme',
      itemId: programmeId,
      amountMinor: 4900n,
      currency: 'EUR',
      status: 'PENDING',
    });
    const again = await fixture.modules.orders.createOrder(buyer, { programmeId });
    expect(again).toMatchObject({ created: false, order: { id: [...ids][0] } });
    const history = await fixture.modules.orders.history(again.order.id);
    expect(history.map((row) => [row.fromStatus, row.toStatus])).toEqual([[null, 'PENDING']]);
    // Another buyer gets an order of their own.
    const other = await fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId });
    expect(other.order.id).not.toBe(again.order.id);
  });

  it.each([
    ['a programme id that is not a UUID', () => ({ programmeId: 'nope' }), 'BAD_USER_INPUT'],
    ['an unknown programme', () => ({ programmeId: randomUUID() }), 'ITEM_NOT_FOUND'],
  ])('refuses %s with a coded error, creating nothing', async (_, input, code) => {
    const before = await ordersCount();
    await expect(fixture.modules.orders.createOrder(await fixture.buyer(), input())).rejects.toMatchObject({
      code,
      field: expect.stringMatching(/^input/),
    });
    expect(await ordersCount()).toBe(before);
  });

  it('refuses free and archived programmes, and anonymous callers', async () => {
    const before = await ordersCount();
    const free = await fixture.programme(null);
    await expect(
      fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId: free }),
    ).rejects.toMatchObject({ code: 'ITEM_FREE' });
    const archived = await fixture.programme();
    await createCatalogueStorage().apply(fixture.database.db, {
      itemType: 'programme',
      itemId: archived,
      slug: 'archived',
      status: 'ARCHIVED',
      at: new Date(Date.now() + 1000),
    });
    await expect(
      fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId: archived }),
    ).rejects.toMatchObject({ code: 'ITEM_UNAVAILABLE' });
    await expect(
      fixture.modules.orders.createOrder({ kind: 'anonymous' }, { programmeId: archived }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await ordersCount()).toBe(before);
  });
});

describe('cancelOrder and the other moves', () => {
  it("expires orders nobody paid for after the TTL; the buyer's next order is a new one", async () => {
    const buyer = await fixture.buyer();
    const programmeId = await fixture.programme({ amountMinor: 1500n, currency: 'EUR' });
    const { order: stale } = await fixture.modules.orders.createOrder(buyer, { programmeId });
    const { order: fresh } = await fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId });
    // The first one was opened four days ago.
    await fixture.database.db
      .update(schema.orders)
      .set({ createdAt: new Date(Date.now() - 96 * 3_600_000) })
      .where(eq(schema.orders.id, stale.id));
    expect(await fixture.modules.orders.expireStale(72)).toBeGreaterThanOrEqual(1);
    expect(await fixture.modules.orders.expireStale(72)).toBe(0);
    expect((await fixture.modules.orders.get(stale.id))?.status).toBe('EXPIRED');
    expect((await fixture.modules.orders.get(fresh.id))?.status).toBe('PENDING');
    const history = await fixture.modules.orders.history(stale.id);
    expect(history.at(-1)).toMatchObject({
      fromStatus: 'PENDING',
      toStatus: 'EXPIRED',
      reason: 'not paid within 72 hours',
    });
    const next = await fixture.modules.orders.createOrder(buyer, { programmeId });
    expect(next).toMatchObject({ created: true });
    expect(next.order.id).not.toBe(stale.id);
  });

  it('lets the buyer or an administrator cancel a PENDING order, nobody else, and only once', async () => {
    const buyer = await fixture.buyer();
    const programmeId = await fixture.programme();
    const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
    await expect(fixture.modules.orders.cancelOrder(await fixture.buyer(), order.id)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const cancelled = await fixture.modules.orders.cancelOrder(buyer, order.id);
    expect(cancelled.status).toBe('CANCELLED');
    await expect(
      fixture.modules.orders.cancelOrder(userPrincipal(randomUUID(), ['ADMIN']), order.id),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    // The order is no longer open: a new one can be made.
    const next = await fixture.modules.orders.createOrder(buyer, { programmeId });
    expect(next).toMatchObject({ created: true });
    expect(next.order.id).not.toBe(order.id);
    const admin = userPrincipal(randomUUID(), ['ADMIN']);
    expect((await fixture.modules.orders.cancelOrder(admin, next.order.id)).status).toBe('CANCELLED');
  });

  it('remembers provider references idempotently and refuses one already naming another order', async () => {
    const programmeId = await fixture.programme();
    const first = (await fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId })).order;
    const second = (await fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId })).order;
    const ref = `cs_test_${randomUUID()}`;
    await fixture.modules.orders.setProviderRef(first.id, 'STRIPE', ref);
    await fixture.modules.orders.setProviderRef(first.id, 'STRIPE', ref);
    await expect(fixture.modules.orders.setProviderRef(second.id, 'STRIPE', ref)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(fixture.modules.orders.setProviderRef(randomUUID(), 'STRIPE', 'x')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await fixture.modules.orders.findByProviderRef('STRIPE', ref))?.id).toBe(first.id);
    expect(await fixture.modules.orders.findByProviderRef('PAYPAL', ref)).toBeUndefined();
    expect(await fixture.modules.orders.get('not-a-uuid')).toBeUndefined();
  });

  it('expires open orders only', async () => {
    const programmeId = await fixture.programme();
    const { order } = await fixture.modules.orders.createOrder(await fixture.buyer(), { programmeId });
    expect((await fixture.modules.orders.expire(order.id, 'quote expired')).status).toBe('EXPIRED');
    await expect(fixture.modules.orders.expire(order.id, 'again')).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    const [row] = await fixture.database.db
      .select()
      .from(schema.orderStatusHistory)
      .where(
        and(
          eq(schema.orderStatusHistory.toStatus, 'EXPIRED'),
          eq(schema.orderStatusHistory.orderId, order.id),
        ),
      );
    expect(row).toMatchObject({ orderId: order.id, fromStatus: 'PENDING', reason: 'quote expired' });
  });
});
