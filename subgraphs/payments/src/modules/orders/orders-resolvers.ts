import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import { formatMinor } from '../invoices/money.js';
import type { PaymentRow } from '../settlement/settlement-storage.js';
import { isUuid } from '../shared/validation.js';
import type { OrderRow } from './orders-storage.js';

type Context = PaymentsContext;
type Page = { first?: number | null; after?: string | null };

/** "49.00" from 4900n EUR: the exact amount in major units, without the code. */
export const majorUnits = (amountMinor: bigint, currency: string) =>
  formatMinor(amountMinor, currency)
    .slice(currency.length + 1)
    .replace(/,/g, '');

// Who may read an order or a payment is decided by the shield rules (permissions.ts).
export const ordersResolvers: GraphQLResolverMap<Context> = {
  Query: {
    order: (_: unknown, args: { id: string }, context: Context) =>
      isUuid(args.id) ? context.loaders.orderById.load(args.id) : null,
    orders: (_: unknown, args: Page, context: Context) => context.orders.listMine(context.principal, args),
    payments: (_: unknown, args: Page, context: Context) =>
      context.invoices.listPayments(context.principal, args),
    paymentsForReview: (_: unknown, args: Page, context: Context) =>
      context.invoices.listPaymentsForReview(context.principal, args),
  },
  Mutation: {
    createOrder: (_: unknown, args: { input: unknown }, context: Context) =>
      asResult(() => context.orders.createOrder(context.principal, args.input)),
    cancelOrder: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({ order: await context.orders.cancelOrder(context.principal, args.id) })),
  },
  Order: {
    buyer: (order: OrderRow) => ({ __typename: 'User', id: order.buyerId }),
    item: (order: OrderRow) => ({ type: order.itemType, id: order.itemId, name: order.itemName }),
    amountMinor: (order: OrderRow) => order.amountMinor.toString(),
    amount: (order: OrderRow) => majorUnits(order.amountMinor, order.currency),
    invoice: (order: OrderRow, _: unknown, context: Context) => context.loaders.invoiceByOrder.load(order.id),
    payments: (order: OrderRow, _: unknown, context: Context) =>
      context.loaders.paymentsByOrder.load(order.id),
    statusHistory: async (order: OrderRow, _: unknown, context: Context) =>
      (await context.loaders.historyByOrder.load(order.id)).map((row) => ({
        from: row.fromStatus,
        to: row.toStatus,
        reason: row.reason,
        at: row.at,
      })),
  },
  Payment: {
    order: (payment: PaymentRow, _: unknown, context: Context) =>
      context.loaders.orderById.load(payment.orderId),
    amountMinor: (payment: PaymentRow) => payment.amountMinor.toString(),
    amount: (payment: PaymentRow) => majorUnits(payment.amountMinor, payment.currency),
  },
};
