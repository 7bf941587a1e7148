import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPaymentsFixture, type PaymentsFixture } from '../../test-fixture.js';
import { formatMinor } from './money.js';
import { splitGross, vatLabel } from './tax.js';

// Invoices: gap-free numbers under concurrency, VAT in integers, the PDF behind an owner's signed link.
let fixture: PaymentsFixture;

beforeAll(async () => {
  fixture = await openPaymentsFixture({ PAYMENTS_VAT_RATE_BPS: 2000 });
});

afterEach(async () => {
  await fixture.expectLedgerBalanced();
});

afterAll(async () => {
  await fixture?.close();
});

async function paidOrder(amountMinor: bigint) {
  const buyer = await fixture.buyer();
  const programmeId = await fixture.programme({ amountMinor, currency: 'EUR' });
  const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
  const result = await fixture.modules.settlement.settle({
    orderId: order.id,
    provider: 'STRIPE',
    providerPaymentId: `pi_${randomUUID()}`,
    amountMinor,
    currency: 'EUR',
    receivedAt: new Date(),
  });
  if (!result.ok || !result.invoice) throw new Error('not settled');
  return { buyer, order, invoice: result.invoice };
}

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('invoice numbers', () => {
  it('gives 20 concurrent settlements 20 consecutive numbers, no gaps, no duplicates', async () => {
    const orders = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const buyer = await fixture.buyer();
        const programmeId = await fixture.programme({ amountMinor: 1000n, currency: 'EUR' });
        return (await fixture.modules.orders.createOrder(buyer, { programmeId })).order;
      }),
    );
    // A refused settlement in the middle takes no number.
    const results = await Promise.all([
      ...orders.map((order) =>
        fixture.modules.settlement.settle({
          orderId: order.id,
          provider: 'PAYPAL',
          providerPaymentId: `cap_${randomUUID()}`,
          amountMinor: 1000n,
          currency: 'EUR',
          receivedAt: new Date(),
        }),
      ),
      fixture.modules.settlement.settle({
        orderId: orders[0]?.id ?? '',
        provider: 'PAYPAL',
        providerPaymentId: `cap_${randomUUID()}`,
        amountMinor: 1000n,
        currency: 'USD',
        receivedAt: new Date(),
      }),
    ]);
    expect(results.at(-1)).toMatchObject({ ok: false, error: { code: 'CURRENCY_MISMATCH' } });
    const numbers = results.slice(0, 20).map((result) => {
      if (!result.ok || !result.invoice) throw new Error('not settled');
      return result.invoice;
    });
    const sequences = numbers.map((invoice) => invoice.sequence).sort((a, b) => a - b);
    const first = sequences[0] ?? 0;
    expect(sequences).toEqual(Array.from({ length: 20 }, (_, index) => first + index));
    expect(new Set(numbers.map((invoice) => invoice.number)).size).toBe(20);
    const year = new Date().getUTCFullYear();
    for (const invoice of numbers) {
      expect(invoice.number).toBe(`SYM-${year}-${String(invoice.sequence).padStart(6, '0')}`);
    }
  }, 60_000);
});

describe('tax', () => {
  it('splits tax-inclusive prices at the configured rate, in integers, half up', async () => {
    const { invoice } = await paidOrder(4900n);
    // 4900 × 2000 / 12000 = 816.67 → 817; net 4083.
    expect(invoice).toMatchObject({ totalMinor: 4900n, taxMinor: 817n, netMinor: 4083n });
    expect(invoice.taxLines).toEqual([
      { label: 'VAT 20%', rateBps: 2000, baseMinor: '4083', taxMinor: '817' },
    ]);
    expect(splitGross(1200n, 2000)).toEqual({ netMinor: 1000n, taxMinor: 200n });
    expect(splitGross(1n, 2000)).toEqual({ netMinor: 1n, taxMinor: 0n });
    // 105 × 1000 / 11000 = 9.55 → 10; at 100 %, 5 / 2 = 2.5 exactly → 3 (half up).
    expect(splitGross(105n, 1000)).toEqual({ netMinor: 95n, taxMinor: 10n });
    expect(splitGross(5n, 10_000)).toEqual({ netMinor: 2n, taxMinor: 3n });
    expect(splitGross(0n, 2000)).toEqual({ netMinor: 0n, taxMinor: 0n });
    expect(splitGross(4900n, 0)).toEqual({ netMinor: 4900n, taxMinor: 0n });
    expect(() => splitGross(1n, 1.5)).toThrow(RangeError);
    expect([vatLabel(0), vatLabel(2000), vatLabel(550)]).toEqual([
      'VAT 0% (no VAT charged)',
      'VAT 20%',
      'VAT 5.5%',
    ]);
    expect([
      formatMinor(490000n, 'EUR'),
      formatMinor(5n, 'EUR'),
      formatMinor(1500n, 'JPY'),
      formatMinor(1234n, 'KWD'),
    ]).toEqual(['EUR 4,900.00', 'EUR 0.05', 'JPY 1,500', 'KWD 1.234']);
  });
});

describe('the PDF', () => {
  it('is rendered into the content store and served only behind a valid, unexpired signed link', async () => {
    const { invoice } = await paidOrder(2500n);
    const cid = await until(
      async () => (await fixture.modules.storage.invoices.byId(invoice.id))?.pdfCid ?? undefined,
    );
    expect(await fixture.contents.has(cid)).toBe(true);
    const link = new URL(fixture.modules.invoices.pdfUrl(invoice));
    expect(link.origin).toBe('http://localhost:8000');
    expect(link.pathname).toBe(`/invoices/${invoice.id}.pdf`);
    const download = await fixture.modules.invoices.download(
      invoice.id,
      link.searchParams.get('expires'),
      link.searchParams.get('sig'),
    );
    expect(download?.invoice.number).toBe(invoice.number);
    const text = Buffer.from(download?.bytes ?? []).toString('latin1');
    expect(text.startsWith('%PDF-')).toBe(true);
    // Forged, swapped or expired links get nothing.
    const other = await paidOrder(2500n);
    expect(
      await fixture.modules.invoices.download(
        other.invoice.id,
        link.searchParams.get('expires'),
        link.searchParams.get('sig'),
      ),
    ).toBeUndefined();
    expect(
      await fixture.modules.invoices.download(
        invoice.id,
        String(Number(link.searchParams.get('expires')) + 1),
        link.searchParams.get('sig'),
      ),
    ).toBeUndefined();
    expect(
      await fixture.modules.invoices.download(invoice.id, '1', link.searchParams.get('sig')),
    ).toBeUndefined();
    expect(
      await fixture.modules.invoices.download(invoice.id, link.searchParams.get('expires'), null),
    ).toBeUndefined();
  });
});
