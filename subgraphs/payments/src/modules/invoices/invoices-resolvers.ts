import type { GraphQLResolverMap } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import { majorUnits } from '../orders/orders-resolvers.js';
import type { InvoiceRow } from './invoices-storage.js';

type Context = PaymentsContext;
type Page = { first?: number | null; after?: string | null };

export const invoicesResolvers: GraphQLResolverMap<Context> = {
  Query: {
    invoices: (_: unknown, args: Page, context: Context) =>
      context.invoices.listInvoices(context.principal, args),
  },
  Invoice: {
    total: (invoice: InvoiceRow) => majorUnits(invoice.totalMinor, invoice.currency),
    totalMinor: (invoice: InvoiceRow) => invoice.totalMinor.toString(),
    netMinor: (invoice: InvoiceRow) => invoice.netMinor.toString(),
    taxMinor: (invoice: InvoiceRow) => invoice.taxMinor.toString(),
    seller: (invoice: InvoiceRow) => ({ ...invoice.seller, vatId: invoice.seller.vatId || null }),
    buyer: (invoice: InvoiceRow) => ({ ...invoice.buyer, vatId: invoice.buyer.vatId || null }),
    order: (invoice: InvoiceRow, _: unknown, context: Context) =>
      context.loaders.orderById.load(invoice.orderId),
    credits: async (invoice: InvoiceRow, _: unknown, context: Context) =>
      invoice.creditsInvoiceId
        ? ((await context.loaders.invoiceById.load(invoice.creditsInvoiceId))?.number ?? null)
        : null,
    pdfUrl: (invoice: InvoiceRow, _: unknown, context: Context) => context.invoices.pdfUrl(invoice),
  },
};
