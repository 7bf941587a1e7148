import {
  DomainError,
  ErrorCode,
  pageSize,
  parseInput,
  toConnection,
  type Connection,
  type Principal,
} from '@symbeon/kernel';
import { z } from 'zod';
import { canSeeBuyersData, signedInUserId } from '../shared/access.js';
import { isUuid, timeCursor, uuidField } from '../shared/validation.js';
import type { OrderRow, OrdersStorage, OrderStatus, Provider } from './orders-storage.js';

export type { OrderRow, OrderStatus, Provider };

/** Error codes of createOrder beyond BAD_USER_INPUT. */
export const OrderError = {
  ITEM_NOT_FOUND: 'ITEM_NOT_FOUND',
  ITEM_UNAVAILABLE: 'ITEM_UNAVAILABLE',
  ITEM_FREE: 'ITEM_FREE',
} as const;

const createOrderInput = z.object({ programmeId: uuidField });
const providerRefInput = z.object({
  orderId: uuidField,
  provider: z.enum(['STRIPE', 'PAYPAL', 'CRYPTO']),
  ref: z.string().trim().min(1).max(255),
});

/**
 * Orders: one open order (PENDING or UNDERPAID) per buyer and item, priced from the catalogue projection
 * when created. Money moves only through settlement (settlement-manager.ts); these are the other moves.
 */
export function createOrdersManager(storage: OrdersStorage) {
  return {
    /** Creating twice (even concurrently) returns the same open order. */
    async createOrder(principal: Principal, input: unknown): Promise<{ order: OrderRow; created: boolean }> {
      const buyerId = signedInUserId(principal);
      const { programmeId } = parseInput(createOrderInput, input);
      const item = await storage.catalogueItem('programme', programmeId);
      if (!item) throw new DomainError(OrderError.ITEM_NOT_FOUND, 'No such programme', 'input.programmeId');
      if (item.status !== 'AVAILABLE')
        throw new DomainError(
          OrderError.ITEM_UNAVAILABLE,
          'This programme is no longer offered',
          'input.programmeId',
        );
      if (item.priceAmountMinor === null || item.currency === null)
        throw new DomainError(
          OrderError.ITEM_FREE,
          'This programme is free: there is nothing to pay',
          'input.programmeId',
        );
      return storage.createOrFindOpen({
        buyerId,
        itemType: 'programme',
        itemId: item.itemId,
        itemName: item.name,
        amountMinor: item.priceAmountMinor,
        currency: item.currency,
      });
    },

    /** The caller's orders, newest first. */
    async listMine(
      principal: Principal,
      args: { first?: number | null; after?: string | null },
    ): Promise<Connection<OrderRow>> {
      const buyerId = signedInUserId(principal);
      const size = pageSize(args.first);
      const after = timeCursor(args.after);
      const rows = await storage.pageForBuyer(
        buyerId,
        size,
        after ? { createdAt: after.at, id: after.id } : undefined,
      );
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], Boolean(args.after));
    },

    /** The buyer or an administrator cancels a PENDING order (one with money on it is refunded instead). */
    async cancelOrder(principal: Principal, orderId: string): Promise<OrderRow> {
      signedInUserId(principal);
      const order = isUuid(orderId) ? await storage.byId(orderId) : undefined;
      if (!order || !canSeeBuyersData(principal, order.buyerId))
        throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'id');
      const result = await storage.transition(order.id, ['PENDING'], 'CANCELLED', 'cancelled by the caller');
      if (!result?.moved)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `An order ${result?.order.status ?? order.status} cannot be cancelled`,
          'id',
        );
      return result.order;
    },

    // --- for the provider modules (stripe, paypal, crypto): no caller checks, they act for the system.

    /** The order, or undefined. */
    async get(orderId: string): Promise<OrderRow | undefined> {
      return isUuid(orderId) ? storage.byId(orderId) : undefined;
    },

    /**
     * Remembers a provider's reference to an order (a Stripe Checkout Session id, a PayPal order id...), so a
     * webhook naming it finds the order. Idempotent; a reference already on another order is a CONFLICT.
     */
    async setProviderRef(orderId: string, provider: Provider, ref: string): Promise<void> {
      const parsed = parseInput(providerRefInput, { orderId, provider, ref });
      const order = await storage.byId(parsed.orderId);
      if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      const outcome = await storage.setProviderRef(parsed.orderId, parsed.provider, parsed.ref);
      if (outcome === 'taken')
        throw new DomainError(ErrorCode.CONFLICT, `${provider} reference already names another order`, 'ref');
    },

    async findByProviderRef(provider: Provider, ref: string): Promise<OrderRow | undefined> {
      return storage.findByProviderRef(provider, ref);
    },

    /** PENDING or UNDERPAID → EXPIRED (e.g. a crypto quote and its top-up window ran out). */
    async expire(orderId: string, reason: string): Promise<OrderRow> {
      const result = await storage.transition(orderId, ['PENDING', 'UNDERPAID'], 'EXPIRED', reason);
      if (!result) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      if (!result.moved)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `An order ${result.order.status} cannot expire`,
          'orderId',
        );
      return result.order;
    },

    /**
     * PENDING orders older than `ttlHours` (nothing was ever received for them) become EXPIRED, with the reason
     * in their history, so the buyer's next createOrder opens a new order at the current price. A payment that
     * still arrives for an expired order is booked as LATE for an administrator (settlement's rule). Returns how
     * many expired; each move is conditional, so replicas sweeping at once expire each order once.
     */
    async expireStale(ttlHours: number, now: Date = new Date()): Promise<number> {
      const before = new Date(now.getTime() - ttlHours * 3_600_000);
      let expired = 0;
      for (const id of await storage.stalePending(before, 500)) {
        const result = await storage.transition(
          id,
          ['PENDING'],
          'EXPIRED',
          `not paid within ${ttlHours} hours`,
        );
        if (result?.moved) expired += 1;
      }
      return expired;
    },

    history(orderId: string) {
      return storage.history(orderId);
    },
  };
}

export type OrdersManager = ReturnType<typeof createOrdersManager>;
