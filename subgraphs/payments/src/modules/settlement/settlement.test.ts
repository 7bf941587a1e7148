import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, type PaymentsFixture } from '../../test-fixture.js';
import { createLedgerStorage } from '../ledger/ledger-storage.js';
import type { SettleInput } from './settlement-manager.js';

// settle and refund over real storage on a real database; the ledger must balance after every test.
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
  const buyer = await fixture.buyer('ada');
  const programmeId = await fixture.programme({ amountMinor, currency: 'EUR' });
  const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
  return { buyer, order };
}

const payment = (orderId: string, extra: Partial<SettleInput> = {}): SettleInput => ({
  orderId,
  provider: 'STRIPE',
  providerPaymentId: `pi_${randomUUID()}`,
  amountMinor: 4900n,
  currency: 'EUR',
  receivedAt: new Date(),
  ...extra,
});

const db = () => fixture.database.db;
const rowsOf = async (orderId: string) => ({
  payments: await db().select().from(schema.paymentsTable).where(eq(schema.paymentsTable.orderId, orderId)),
  invoices: await db().select().from(schema.invoices).where(eq(schema.invoices.orderId, orderId)),
  entries: await db().select().from(schema.journalEntries).where(eq(schema.journalEntries.orderId, orderId)),
  events: (await db().select().from(schema.outbox)).filter(
    (event) => (event.payload as { orderId?: string }).orderId === orderId,
  ),
});
const ledger = () => createLedgerStorage(db());

async function settled(input: SettleInput) {
  const result = await fixture.modules.settlement.settle(input);
  if (!result.ok) throw new Error(`settle failed: ${result.error.code} ${result.error.message}`);
  return result;
}

describe('settle', () => {
  it('settles the same provider payment three times into one payment, one invoice, one set of ledger lines', async () => {
    const { order, buyer } = await openOrder();
    const input = payment(order.id);
    const first = await settled(input);
    const second = await settled(input);
    const third = await settled({ ...input, receivedAt: new Date(Date.now() + 5000) });
    expect([first.duplicate, second.duplicate, third.duplicate]).toEqual([false, true, true]);
    expect(first.order.status).toBe('PAID');
    expect(first.payment.outcome).toBe('SETTLED');
    expect(second.payment.id).toBe(first.payment.id);
    expect(third.invoice?.number).toBe(first.invoice?.number);
    expect(first.invoice).toMatchObject({
      kind: 'INVOICE',
      number: expect.stringMatching(/^SYM-\d{4}-\d{6}$/),
      totalMinor: 4900n,
      netMinor: 4900n,
      taxMinor: 0n,
      taxLines: [{ label: 'VAT 0% (no VAT charged)', rateBps: 0, baseMinor: '4900', taxMinor: '0' }],
      seller: { name: 'Symbeon', addressLines: ['1 Test Street', '75001 Paris'] },
      buyer: { name: '@ada', userId: buyer.userId },
    });
    const rows = await rowsOf(order.id);
    expect(rows.payments).toHaveLength(1);
    expect(rows.invoices).toHaveLength(1);
    expect(rows.entries.map((entry) => entry.kind).sort()).toEqual(['INVOICE', 'PAYMENT']);
    expect(rows.events).toHaveLength(1);
    expect(rows.events[0]).toMatchObject({
      type: 'payments.PaymentSettled',
      payload: {
        orderId: order.id,
        buyerId: buyer.userId,
        item: { type: 'programme', id: order.itemId },
        amountMinor: '4900',
        paidMinor: '4900',
        currency: 'EUR',
        provider: 'STRIPE',
        invoiceNumber: first.invoice?.number,
      },
    });
    expect(await ledger().linesOfOrder(order.id)).toEqual([
      {
        kind: 'PAYMENT',
        account: 'cash:stripe',
        provider: 'STRIPE',
        debitMinor: 4900n,
        creditMinor: 0n,
        currency: 'EUR',
      },
      {
        kind: 'PAYMENT',
        account: 'customer-deposits',
        provider: null,
        debitMinor: 0n,
        creditMinor: 4900n,
        currency: 'EUR',
      },
      {
        kind: 'INVOICE',
        account: 'customer-deposits',
        provider: null,
        debitMinor: 4900n,
        creditMinor: 0n,
        currency: 'EUR',
      },
      {
        kind: 'INVOICE',
        account: 'revenue:certification',
        provider: null,
        debitMinor: 0n,
        creditMinor: 4900n,
        currency: 'EUR',
      },
    ]);
  });

  it('settles concurrent deliveries of one payment once', async () => {
    const { order } = await openOrder();
    const input = payment(order.id, { provider: 'PAYPAL' });
    const results = await Promise.all(Array.from({ length: 5 }, () => settled(input)));
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    const rows = await rowsOf(order.id);
    expect([rows.payments.length, rows.invoices.length, rows.entries.length, rows.events.length]).toEqual([
      1, 1, 2, 1,
    ]);
  });

  it('keeps an underpaid order open until topped up, then invoices it once', async () => {
    const { order } = await openOrder(5000n);
    const part = await settled(
      payment(order.id, { provider: 'CRYPTO', amountMinor: 3000n, details: { token: 'ETH' } }),
    );
    expect(part).toMatchObject({
      order: { status: 'UNDERPAID' },
      payment: { outcome: 'PARTIAL' },
      invoice: null,
    });
    expect((await rowsOf(order.id)).events).toHaveLength(0);
    const rest = await settled(
      payment(order.id, { provider: 'CRYPTO', amountMinor: 2000n, details: { token: 'ETH' } }),
    );
    expect(rest).toMatchObject({ order: { status: 'PAID' }, payment: { outcome: 'SETTLED' } });
    expect(rest.invoice?.totalMinor).toBe(5000n);
    const lines = await ledger().linesOfOrder(order.id);
    expect(lines.filter((line) => line.account === 'cash:crypto:eth').map((line) => line.debitMinor)).toEqual(
      [3000n, 2000n],
    );
    expect((await rowsOf(order.id)).events).toHaveLength(1);
  });

  it('marks an overpaid order, keeps the excess on deposit, and refunds the excess without a credit note', async () => {
    const { order } = await openOrder(4900n);
    const over = await settled(payment(order.id, { amountMinor: 5000n }));
    expect(over).toMatchObject({ order: { status: 'OVERPAID' }, payment: { outcome: 'SETTLED' } });
    expect(over.invoice?.totalMinor).toBe(4900n);
    const refund = await fixture.modules.settlement.refund({
      orderId: order.id,
      provider: 'STRIPE',
      providerRefundId: `re_${randomUUID()}`,
      amountMinor: 100n,
      currency: 'EUR',
      reason: 'excess',
    });
    expect(refund).toMatchObject({ ok: true, creditNote: null, order: { status: 'PAID' } });
    const deposits = (await ledger().balances()).filter((row) => row.account === 'customer-deposits');
    expect(deposits.every((row) => row.balanceMinor === 0n)).toBe(true);
  });

  it('books a payment on a cancelled order as LATE without touching the order', async () => {
    const { order, buyer } = await openOrder();
    await fixture.modules.orders.cancelOrder(buyer, order.id);
    const late = await settled(payment(order.id));
    expect(late).toMatchObject({
      order: { status: 'CANCELLED' },
      payment: { outcome: 'LATE' },
      invoice: null,
    });
    const rows = await rowsOf(order.id);
    expect([rows.invoices.length, rows.events.length, rows.entries.length]).toEqual([0, 0, 1]);
  });

  it.each([
    ['an unknown order', { orderId: randomUUID() }, 'NOT_FOUND'],
    ['a bad order id', { orderId: 'x' }, 'BAD_USER_INPUT'],
    ['another currency', { currency: 'USD' }, 'CURRENCY_MISMATCH'],
    ['a zero amount', { amountMinor: 0n }, 'BAD_USER_INPUT'],
    ['a negative amount', { amountMinor: -5n }, 'BAD_USER_INPUT'],
    ['an empty provider id', { providerPaymentId: ' ' }, 'BAD_USER_INPUT'],
    ['an unknown provider', { provider: 'BITPAY' as 'STRIPE' }, 'BAD_USER_INPUT'],
  ])('refuses %s with a coded result and writes nothing', async (_, change, code) => {
    const { order } = await openOrder();
    const before = await db().select().from(schema.journalLines);
    const result = await fixture.modules.settlement.settle(payment(order.id, change));
    expect(result).toMatchObject({ ok: false, error: { code } });
    expect(await db().select().from(schema.journalLines)).toHaveLength(before.length);
    expect((await rowsOf(order.id)).payments).toHaveLength(0);
    expect((await fixture.modules.orders.get(order.id))?.status).toBe('PENDING');
  });
});

describe('refund', () => {
  it('issues a credit note in its own series, reverses the ledger, emits PaymentRefunded once', async () => {
    const { order } = await openOrder();
    const paid = await settled(payment(order.id));
    const input = {
      orderId: order.id,
      provider: 'STRIPE' as const,
      providerRefundId: `re_${randomUUID()}`,
      amountMinor: 4900n,
      currency: 'EUR',
      reason: 'requested by the buyer',
    };
    const first = await fixture.modules.settlement.refund(input);
    const again = await fixture.modules.settlement.refund(input);
    if (!first.ok || !again.ok) throw new Error('refund failed');
    expect(first).toMatchObject({ duplicate: false, order: { status: 'REFUNDED' } });
    expect(again).toMatchObject({ duplicate: true, refund: { id: first.refund.id } });
    expect(first.creditNote).toMatchObject({
      kind: 'CREDIT_NOTE',
      number: expect.stringMatching(/^SYM-CN-\d{4}-\d{6}$/),
      totalMinor: 4900n,
      creditsInvoiceId: paid.invoice?.id,
    });
    const rows = await rowsOf(order.id);
    expect(rows.events.map((event) => event.type)).toEqual([
      'payments.PaymentSettled',
      'payments.PaymentRefunded',
    ]);
    expect(rows.events[1]?.payload).toMatchObject({
      amountMinor: '4900',
      creditNoteNumber: first.creditNote?.number,
      orderStatus: 'REFUNDED',
    });
    const lines = await ledger().linesOfOrder(order.id);
    expect(lines.filter((line) => line.kind === 'CREDIT_NOTE' || line.kind === 'REFUND')).toEqual([
      {
        kind: 'CREDIT_NOTE',
        account: 'refunds',
        provider: null,
        debitMinor: 4900n,
        creditMinor: 0n,
        currency: 'EUR',
      },
      {
        kind: 'CREDIT_NOTE',
        account: 'customer-deposits',
        provider: null,
        debitMinor: 0n,
        creditMinor: 4900n,
        currency: 'EUR',
      },
      {
        kind: 'REFUND',
        account: 'customer-deposits',
        provider: null,
        debitMinor: 4900n,
        creditMinor: 0n,
        currency: 'EUR',
      },
      {
        kind: 'REFUND',
        account: 'cash:stripe',
        provider: 'STRIPE',
        debitMinor: 0n,
        creditMinor: 4900n,
        currency: 'EUR',
      },
    ]);
    // Nothing left to refund.
    const more = await fixture.modules.settlement.refund({
      ...input,
      providerRefundId: `re_${randomUUID()}`,
      amountMinor: 1n,
    });
    expect(more).toMatchObject({ ok: false, error: { code: 'REFUND_EXCEEDS_PAYMENTS' } });
  });

  it('refunds part of an invoice with a partial credit note and leaves the order PAID', async () => {
    const { order } = await openOrder(10_000n);
    await settled(payment(order.id, { amountMinor: 10_000n }));
    const result = await fixture.modules.settlement.refund({
      orderId: order.id,
      provider: 'STRIPE',
      providerRefundId: `re_${randomUUID()}`,
      amountMinor: 2500n,
      currency: 'EUR',
    });
    expect(result).toMatchObject({ ok: true, order: { status: 'PAID' }, creditNote: { totalMinor: 2500n } });
  });

  it('refuses a refund for an unknown order, in another currency, or over what was paid', async () => {
    const { order } = await openOrder();
    const base = {
      orderId: order.id,
      provider: 'STRIPE' as const,
      providerRefundId: 're_x',
      amountMinor: 1n,
      currency: 'EUR',
    };
    expect(await fixture.modules.settlement.refund({ ...base, orderId: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await fixture.modules.settlement.refund({ ...base, currency: 'GBP' })).toMatchObject({
      ok: false,
      error: { code: 'CURRENCY_MISMATCH' },
    });
    expect(await fixture.modules.settlement.refund(base)).toMatchObject({
      ok: false,
      error: { code: 'REFUND_EXCEEDS_PAYMENTS' },
    });
    expect(await db().select().from(schema.refunds).where(eq(schema.refunds.orderId, order.id))).toHaveLength(
      0,
    );
  });
});

describe('refunds go back the way the money came', () => {
  it('refuses a refund through another provider than the payment, and credits the token cash account', async () => {
    const { order } = await openOrder(5000n);
    await settled(payment(order.id, { provider: 'CRYPTO', amountMinor: 5200n, details: { token: 'USDC' } }));
    const refund = (extra: Record<string, unknown>) =>
      fixture.modules.settlement.refund({
        orderId: order.id,
        provider: 'CRYPTO',
        providerRefundId: `excess:${randomUUID()}`,
        amountMinor: 200n,
        currency: 'EUR',
        ...extra,
      });
    expect(await refund({ provider: 'STRIPE' })).toMatchObject({
      ok: false,
      error: { code: 'REFUND_EXCEEDS_PAYMENTS' },
    });
    expect(await refund({ details: { token: 'USDC' } })).toMatchObject({
      ok: true,
      creditNote: null,
      order: { status: 'PAID' },
    });
    const usdc = (await ledger().balances()).filter((row) => row.account === 'cash:crypto:usdc');
    expect(usdc.map((row) => [row.debitMinor, row.creditMinor])).toEqual([[5200n, 200n]]);
  });
});

describe('the journal', () => {
  it('refuses an unbalanced entry at commit and any change to written lines', async () => {
    const entryId = randomUUID();
    await expect(
      db().transaction(async (tx) => {
        await tx
          .insert(schema.journalEntries)
          .values({ id: entryId, kind: 'PAYMENT', sourceId: randomUUID(), memo: 'bad' });
        await tx
          .insert(schema.journalLines)
          .values({ entryId, account: 'cash:stripe', debitMinor: 10n, currency: 'EUR' });
      }),
    ).rejects.toThrow();
    expect(
      await db().select().from(schema.journalEntries).where(eq(schema.journalEntries.id, entryId)),
    ).toHaveLength(0);
    await expect(db().update(schema.journalLines).set({ debitMinor: 1n })).rejects.toThrow();
    await expect(db().delete(schema.journalLines)).rejects.toThrow();
  });
});
