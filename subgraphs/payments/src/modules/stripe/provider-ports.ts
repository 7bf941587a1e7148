import { DomainError, ErrorCode, type Logger, type Principal } from '@symbeon/kernel';
import type { OrderRow, OrdersManager } from '../orders/orders-manager.js';
import type { SettlementManager } from '../settlement/settlement-manager.js';
import { signedInUserId } from '../shared/access.js';

/** What the card and PayPal modules need from orders and settlement (they move no money themselves). */
export interface ProviderPorts {
  orders: Pick<OrdersManager, 'get' | 'setProviderRef' | 'findByProviderRef'>;
  settlement: Pick<SettlementManager, 'settle' | 'refund'>;
  logger: Logger;
}

/** Error codes of the provider mutations beyond NOT_FOUND, FORBIDDEN and UNAUTHENTICATED. */
export const ProviderError = {
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  ORDER_ALREADY_PAID: 'ORDER_ALREADY_PAID',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  ORDER_NOT_PAYABLE: 'ORDER_NOT_PAYABLE',
  PAYMENT_PENDING: 'PAYMENT_PENDING',
  NOT_APPROVED: 'NOT_APPROVED',
  NOTHING_TO_REFUND: 'NOTHING_TO_REFUND',
} as const;

/** The caller's own order, still waiting for money; refusals are coded DomainErrors. */
export async function payableOrderOf(
  orders: ProviderPorts['orders'],
  principal: Principal,
  orderId: string,
): Promise<OrderRow> {
  const buyerId = signedInUserId(principal);
  const order = await orders.get(orderId);
  // Someone else's order is as unknown as a missing one.
  if (!order || order.buyerId !== buyerId)
    throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
  if (order.status === 'PAID' || order.status === 'OVERPAID')
    throw new DomainError(ProviderError.ORDER_ALREADY_PAID, 'This order is paid already', 'orderId');
  if (order.status === 'CANCELLED')
    throw new DomainError(ProviderError.ORDER_CANCELLED, 'This order was cancelled', 'orderId');
  if (order.status !== 'PENDING')
    throw new DomainError(
      ProviderError.ORDER_NOT_PAYABLE,
      `An order ${order.status} cannot be paid by card or PayPal`,
      'orderId',
    );
  return order;
}

export function unavailable(provider: string): DomainError {
  return new DomainError(
    ProviderError.PROVIDER_UNAVAILABLE,
    `${provider} payments are not available on this platform (not configured)`,
  );
}
