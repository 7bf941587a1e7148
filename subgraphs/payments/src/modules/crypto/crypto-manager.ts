import { DomainError, ErrorCode, type Logger, type Principal } from '@symbeon/kernel';
import { getAddress, isAddress, ZeroAddress } from 'ethers';
import { z } from 'zod';
import type { OrdersManager } from '../orders/orders-manager.js';
import type { OrderRow } from '../orders/orders-storage.js';
import type { SettlementManager } from '../settlement/settlement-manager.js';
import { canSeeBuyersData, requireAdmin, signedInUserId } from '../shared/access.js';
import { isUuid } from '../shared/validation.js';
import {
  creditedMinor,
  formatRate,
  fullPaymentThreshold,
  minorValueOf,
  orderRefOf,
  parseRate,
  tokenAmountFor,
} from './crypto-amounts.js';
import type { CryptoChain } from './crypto-chain.js';
import type { RateSource } from './crypto-rates.js';
import {
  HELD,
  type CryptoPaymentRow,
  type CryptoQuoteRow,
  type CryptoStorage,
  type ReceivedPayment,
} from './crypto-storage.js';

/** Error codes of the crypto mutations beyond BAD_USER_INPUT, NOT_FOUND, INVALID_STATE. */
export const CryptoError = {
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  TOKEN_NOT_ACCEPTED: 'TOKEN_NOT_ACCEPTED',
  RATE_UNAVAILABLE: 'RATE_UNAVAILABLE',
  QUOTE_HAS_PAYMENTS: 'QUOTE_HAS_PAYMENTS',
  NOTHING_TO_REFUND: 'NOTHING_TO_REFUND',
} as const;

export interface CryptoManagerDeps {
  storage: CryptoStorage;
  /** Undefined: the deployment has no PaymentReceiver (crypto unavailable). */
  chain: CryptoChain | undefined;
  rates: RateSource;
  orders: OrdersManager;
  settlement: SettlementManager;
  logger: Logger;
  quoteMinutes: number;
  topUpMinutes: number;
  now?: () => Date;
}

/** The settlement id of an on-chain payment: stable across redeliveries of its event. */
export const providerPaymentId = (payment: Pick<CryptoPaymentRow, 'chainId' | 'txHash' | 'logIndex'>) =>
  `${payment.chainId}:${payment.txHash}:${payment.logIndex}`;

const MINUTE = 60_000;

export const paymentReceivedPayload = z.object({
  chainId: z.number().int(),
  contract: z.string(),
  orderRef: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  payer: z.string(),
  token: z.string(),
  amount: z.string().regex(/^\d+$/),
  txHash: z.string(),
  blockNumber: z.number().int(),
  blockHash: z.string(),
  logIndex: z.number().int(),
  occurredAt: z.string(),
});

export const chainReorganizedPayload = z.object({
  chainId: z.number().int(),
  removedLogs: z.array(
    z.object({
      blockHash: z.string(),
      logIndex: z.number().int(),
      txHash: z.string(),
      eventName: z.string().optional(),
    }),
  ),
});

/**
 * Crypto payments (the rules, README "Crypto payments"): quotes convert an order's price into token units
 * at a rate; the chain subgraph's PaymentReceived events are matched by orderRef to the order and its current
 * quote, counted, and handed to settlement; what cannot be applied automatically is held for an administrator.
 */
export function createCryptoManager(deps: CryptoManagerDeps) {
  const { storage, orders, settlement, logger } = deps;
  const now = deps.now ?? (() => new Date());

  function requireChain(): CryptoChain {
    if (!deps.chain)
      throw new DomainError(
        CryptoError.PROVIDER_UNAVAILABLE,
        'Crypto payments are unavailable: the chain deployment has no PaymentReceiver',
      );
    return deps.chain;
  }

  async function createQuote(principal: Principal, orderId: string, tokenInput?: string | null) {
    const buyerId = signedInUserId(principal);
    const order = isUuid(orderId) ? await orders.get(orderId) : undefined;
    // Only the buyer pays their order; anyone else learns nothing about it.
    if (!order || order.buyerId !== buyerId)
      throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
    if (order.status !== 'PENDING' && order.status !== 'UNDERPAID')
      throw new DomainError(ErrorCode.INVALID_STATE, `An order ${order.status} takes no payment`, 'orderId');
    const chain = requireChain();
    if (tokenInput && tokenInput !== ZeroAddress && !isAddress(tokenInput))
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        'token must be an address (0x + 40 hex digits)',
        'token',
      );
    const token = await chain.token(tokenInput ?? undefined);
    if (!token)
      throw new DomainError(
        CryptoError.TOKEN_NOT_ACCEPTED,
        'PaymentReceiver does not accept this token',
        'token',
      );
    const quoted = await deps.rates.rate(token.symbol, order.currency);
    if (!quoted)
      throw new DomainError(
        CryptoError.RATE_UNAVAILABLE,
        `No ${token.symbol}/${order.currency} rate is configured`,
        'token',
      );
    const orderRef = orderRefOf(order.id);
    await orders.setProviderRef(order.id, 'CRYPTO', orderRef);
    const created = now();
    const result = await storage.replaceQuote({
      orderId: order.id,
      chainId: chain.chainId,
      receiver: chain.receiver,
      orderRef,
      token: token.address,
      tokenSymbol: token.symbol,
      tokenDecimals: token.decimals,
      amount: tokenAmountFor(order.amountMinor, quoted.rate, token.decimals).toString(),
      priceMinor: order.amountMinor,
      currency: order.currency,
      rate: formatRate(quoted.rate),
      rateSource: quoted.source,
      expiresAt: new Date(created.getTime() + deps.quoteMinutes * MINUTE),
      createdAt: created,
    });
    if (result === 'has-payments')
      throw new DomainError(
        CryptoError.QUOTE_HAS_PAYMENTS,
        'The current quote has received a payment: pay the rest on it',
        'orderId',
      );
    return result;
  }

  /** Stores a reported payment (in the consumer's transaction); deciding happens in `process`. */
  async function received(
    tx: Parameters<CryptoStorage['recordReceived']>[0],
    eventId: string,
    payload: unknown,
  ) {
    const parsed = paymentReceivedPayload.safeParse(payload);
    if (!parsed.success) {
      logger.error({ eventId, issues: parsed.error.issues }, 'PaymentReceived not understood; ignored');
      return false;
    }
    const event = parsed.data;
    const payment: ReceivedPayment = {
      eventId,
      chainId: event.chainId,
      contract: event.contract,
      txHash: event.txHash,
      logIndex: event.logIndex,
      blockNumber: event.blockNumber,
      blockHash: event.blockHash,
      orderRef: event.orderRef.toLowerCase(),
      payer: getAddress(event.payer),
      token: getAddress(event.token),
      amount: BigInt(event.amount),
      occurredAt: new Date(event.occurredAt),
    };
    return storage.recordReceived(tx, payment);
  }

  /**
   * A reorganisation removed logs: a payment not yet handed to settlement is dropped (a held one's suspense
   * entry reversed); one already handed over stays, flagged for an administrator (money may not have arrived).
   */
  async function reorganized(tx: Parameters<CryptoStorage['recordReceived']>[0], payload: unknown) {
    const parsed = chainReorganizedPayload.safeParse(payload);
    if (!parsed.success) {
      logger.error({ issues: parsed.error.issues }, 'ChainReorganized not understood; ignored');
      return;
    }
    const event = parsed.data;
    const logs = event.removedLogs.filter((log) => !log.eventName || log.eventName === 'PaymentReceived');
    for (const payment of await storage.paymentsAt(tx, event.chainId, logs)) {
      if (payment.status === 'RECEIVED' || (HELD.includes(payment.status) && !payment.resolvedAt)) {
        await storage.reverseSuspense(tx, payment, 'removed by a chain reorganisation');
        await storage.updatePayment(tx, payment.id, {
          status: 'DROPPED',
          needsReview: false,
          resolution: 'removed by a chain reorganisation before it was applied',
          resolvedAt: now(),
        });
      } else if (payment.status !== 'DROPPED') {
        await storage.updatePayment(tx, payment.id, {
          needsReview: true,
          resolvedAt: null,
          reviewReason: `REORGANIZED: block ${payment.blockNumber} (${payment.blockHash}) left the chain after this payment was ${payment.status.toLowerCase()}; check it was mined again`,
        });
      }
    }
  }

  type Decision =
    | { kind: 'count'; order: OrderRow; quote: CryptoQuoteRow; credited: bigint; paidInFull: boolean }
    | {
        kind: 'hold';
        status: 'LATE' | 'UNMATCHED' | 'WRONG_TOKEN';
        reason: string;
        order?: OrderRow;
        quote?: CryptoQuoteRow;
      };

  /** Decides what a RECEIVED payment is (under its row lock); returns true when settlement must be called. */
  async function decide(id: string): Promise<boolean> {
    const outcome = await storage.withPayment(id, async (tx, payment) => {
      if (payment.status !== 'RECEIVED') return payment.status === 'SETTLING' && !payment.needsReview;
      // Re-mined after a reorganisation (same transaction at a new block): the payment already counted once.
      const earlier = await storage.earlierSighting(tx, payment);
      if (earlier) {
        await storage.updatePayment(tx, payment.id, {
          status: 'DROPPED',
          orderId: earlier.orderId,
          quoteId: earlier.quoteId,
          resolution: `the same payment as ${earlier.id}, mined again after a chain reorganisation`,
          resolvedAt: now(),
        });
        if (earlier.needsReview && earlier.reviewReason?.startsWith('REORGANIZED') && !earlier.resolvedAt)
          await storage.updatePayment(tx, earlier.id, {
            needsReview: false,
            resolvedAt: now(),
            resolution: `mined again in block ${payment.blockNumber} (${payment.blockHash})`,
          });
        return false;
      }
      const decision = await (async (): Promise<Decision> => {
        const order = await storage.orderByRef(tx, payment.orderRef);
        if (!order)
          return { kind: 'hold', status: 'UNMATCHED', reason: 'UNMATCHED: no order has this orderRef' };
        const latest = await storage.latestQuote(order.id, tx);
        const quote = latest ? await storage.lockQuote(tx, latest.id) : undefined;
        if (!quote)
          return {
            kind: 'hold',
            status: 'UNMATCHED',
            reason: 'UNMATCHED: the order has no crypto quote',
            order,
          };
        if (quote.token !== payment.token)
          return {
            kind: 'hold',
            status: 'WRONG_TOKEN',
            reason: `WRONG_TOKEN: paid in ${payment.token}, quoted in ${quote.tokenSymbol} (${quote.token})`,
            order,
            quote,
          };
        const counted = await storage.countedFor(quote.id, tx);
        const quotedAmount = BigInt(quote.amount);
        const threshold = fullPaymentThreshold(quotedAmount);
        const paidAlready = counted.amount >= threshold;
        const onTime = payment.occurredAt.getTime() <= quote.expiresAt.getTime();
        const topUp =
          !onTime &&
          counted.amount > 0n &&
          payment.occurredAt.getTime() <= quote.expiresAt.getTime() + deps.topUpMinutes * MINUTE;
        const orderTakesMoney = ['PENDING', 'UNDERPAID', 'PAID', 'OVERPAID'].includes(order.status);
        // Beyond a paid quote the payment is excess whenever it comes (owed back to the payer).
        if (!orderTakesMoney || !(onTime || topUp || paidAlready))
          return {
            kind: 'hold',
            status: 'LATE',
            reason: orderTakesMoney
              ? `LATE: received ${payment.occurredAt.toISOString()}, the quote expired ${quote.expiresAt.toISOString()}${counted.amount > 0n ? ` and its top-up window ${deps.topUpMinutes} min later` : ''}`
              : `LATE: the order is ${order.status}`,
            order,
            quote,
          };
        const total = counted.amount + BigInt(payment.amount);
        const credited = creditedMinor(total, quotedAmount, quote.priceMinor) - counted.creditedMinor;
        return { kind: 'count', order, quote, credited, paidInFull: total >= threshold };
      })();

      if (decision.kind === 'count') {
        if (decision.paidInFull && decision.quote.status !== 'PAID')
          await storage.setQuoteStatus(tx, decision.quote.id, 'PAID');
        // Dust worth less than a minor unit is counted but has nothing to settle.
        await storage.updatePayment(tx, payment.id, {
          status: decision.credited > 0n ? 'SETTLING' : 'APPLIED',
          orderId: decision.order.id,
          quoteId: decision.quote.id,
          creditedMinor: decision.credited,
          currency: decision.order.currency,
        });
        return decision.credited > 0n;
      }
      const held = await storage.updatePayment(tx, payment.id, {
        status: decision.status,
        orderId: decision.order?.id ?? null,
        quoteId: decision.quote?.id ?? null,
        needsReview: true,
        reviewReason: decision.reason,
      });
      // Booked in the order's currency: at the quote's rate, or at the current rate for another token. An
      // unknown orderRef has no currency: nothing is booked, the payment is listed for review with its amount.
      if (decision.order) {
        const valued = await valueOf(payment, decision.order.currency, decision.quote);
        if (valued && valued.value > 0n) {
          const entryId = await storage.bookSuspense(
            tx,
            held,
            valued.value,
            decision.order.currency,
            valued.symbol,
          );
          await storage.updatePayment(tx, payment.id, {
            suspenseEntryId: entryId,
            creditedMinor: valued.value,
            currency: decision.order.currency,
          });
        }
      }
      logger.warn({ paymentId: payment.id, reason: decision.reason }, 'crypto payment held for review');
      return false;
    });
    return outcome ?? false;
  }

  /** A payment's worth in `currency`: at its quote's rate when in the quote's token, else at the current rate. */
  async function valueOf(
    payment: CryptoPaymentRow,
    currency: string,
    quote: CryptoQuoteRow | undefined,
  ): Promise<{ value: bigint; symbol: string } | undefined> {
    if (quote && quote.token === payment.token) {
      const rate = parseRate(quote.rate);
      return rate
        ? {
            value: minorValueOf(BigInt(payment.amount), rate, quote.tokenDecimals),
            symbol: quote.tokenSymbol,
          }
        : undefined;
    }
    const token = await deps.chain?.token(payment.token).catch(() => undefined);
    const quoted = token ? await deps.rates.rate(token.symbol, currency) : undefined;
    return token && quoted
      ? { value: minorValueOf(BigInt(payment.amount), quoted.rate, token.decimals), symbol: token.symbol }
      : undefined;
  }

  async function tokenSymbolOf(address: string): Promise<string | undefined> {
    const token = await deps.chain?.token(address).catch(() => undefined);
    return token?.symbol;
  }

  /** Hands a SETTLING payment to settlement (idempotent there on its provider payment id). */
  async function settleCounted(id: string): Promise<void> {
    const payment = await storage.paymentById(id);
    if (
      !payment ||
      payment.status !== 'SETTLING' ||
      !payment.orderId ||
      !payment.creditedMinor ||
      !payment.currency
    )
      return;
    const quote = payment.quoteId ? await storage.quoteById(payment.quoteId) : undefined;
    const result = await settlement.settle({
      orderId: payment.orderId,
      provider: 'CRYPTO',
      providerPaymentId: providerPaymentId(payment),
      amountMinor: payment.creditedMinor,
      currency: payment.currency,
      receivedAt: payment.occurredAt,
      details: {
        token: quote?.tokenSymbol ?? payment.token,
        tokenAddress: payment.token,
        tokenAmount: payment.amount,
        txHash: payment.txHash,
        logIndex: payment.logIndex,
        payer: payment.payer,
        quoteId: payment.quoteId,
        rate: quote?.rate,
      },
    });
    await storage.withPayment(id, async (tx, current) => {
      if (current.status !== 'SETTLING') return;
      if (result.ok) {
        await storage.updatePayment(tx, id, { status: 'APPLIED', settlementPaymentId: result.payment.id });
      } else {
        await storage.updatePayment(tx, id, {
          needsReview: true,
          reviewReason: `SETTLEMENT_REFUSED: ${result.error.code}: ${result.error.message}`,
        });
      }
    });
  }

  let running: Promise<void> | undefined;
  let again = false;

  /** Decides and settles every pending payment, in chain order. One pass at a time per process. */
  function processPending(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        for (const id of await storage.pendingIds(100)) {
          if (await decide(id)) await settleCounted(id);
        }
      } while (again);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  async function resolve(
    principal: Principal,
    id: string,
    action: 'ACCEPT' | 'REFUND' | 'DISMISS',
    note?: string | null,
  ) {
    const adminId = requireAdmin(principal);
    const payment = isUuid(id) ? await storage.paymentById(id) : undefined;
    if (!payment) throw new DomainError(ErrorCode.NOT_FOUND, 'No such crypto payment', 'id');
    if (!payment.needsReview || payment.resolvedAt)
      throw new DomainError(ErrorCode.INVALID_STATE, 'This payment is not waiting for a review', 'id');
    const resolution = `${action}${note?.trim() ? `: ${note.trim().slice(0, 500)}` : ''}`;
    if (action === 'DISMISS' || !HELD.includes(payment.status)) {
      if (action !== 'DISMISS')
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `A ${payment.status} payment was already applied: DISMISS its flag (refunds go through refundCryptoExcess or refundPayment)`,
          'action',
        );
      return (await storage.withPayment(id, (tx) =>
        storage.updatePayment(tx, id, {
          needsReview: false,
          resolvedAt: now(),
          resolvedBy: adminId,
          resolution,
        }),
      ))!;
    }
    if (action === 'REFUND') {
      return (await storage.withPayment(id, async (tx, current) => {
        await storage.reverseSuspense(tx, current, 'refunded to the payer');
        return storage.updatePayment(tx, id, {
          status: 'REFUNDED',
          needsReview: false,
          resolvedAt: now(),
          resolvedBy: adminId,
          resolution,
        });
      }))!;
    }
    // ACCEPT: credit it to its order at its value when held (late), or at the current rate (other token).
    const order = payment.orderId ? await orders.get(payment.orderId) : undefined;
    if (!order)
      throw new DomainError(
        ErrorCode.INVALID_STATE,
        'A payment without an order can only be refunded',
        'action',
      );
    const value = payment.creditedMinor ?? (await valueOf(payment, order.currency, undefined))?.value ?? 0n;
    if (value <= 0n)
      throw new DomainError(ErrorCode.INVALID_STATE, 'The payment is worth nothing to credit', 'id');
    const moved = await storage.withPayment(id, async (tx, current) => {
      if (!HELD.includes(current.status) || current.resolvedAt) return false;
      await storage.reverseSuspense(tx, current, 'accepted for its order');
      await storage.updatePayment(tx, id, {
        status: 'ACCEPTED',
        // Another token's units do not add up with the quote's.
        ...(current.status === 'WRONG_TOKEN' ? { quoteId: null } : {}),
        creditedMinor: value,
        currency: order.currency,
        needsReview: false,
        resolvedAt: now(),
        resolvedBy: adminId,
        resolution,
      });
      return true;
    });
    if (!moved) throw new DomainError(ErrorCode.CONFLICT, 'Resolved meanwhile', 'id');
    const result = await settlement.settle({
      orderId: order.id,
      provider: 'CRYPTO',
      providerPaymentId: providerPaymentId(payment),
      amountMinor: value,
      currency: order.currency,
      receivedAt: payment.occurredAt,
      details: {
        token: (await tokenSymbolOf(payment.token)) ?? payment.token,
        tokenAddress: payment.token,
        tokenAmount: payment.amount,
        txHash: payment.txHash,
        payer: payment.payer,
        acceptedBy: adminId,
      },
    });
    if (!result.ok) throw new DomainError(result.error.code, result.error.message, 'id');
    return (await storage.withPayment(id, (tx) =>
      storage.updatePayment(tx, id, { settlementPaymentId: result.payment.id }),
    ))!;
  }

  async function refundExcess(principal: Principal, orderId: string, reason?: string | null) {
    requireAdmin(principal);
    const order = isUuid(orderId) ? await orders.get(orderId) : undefined;
    if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
    const quote = await storage.latestQuote(order.id);
    if (!quote)
      throw new DomainError(CryptoError.NOTHING_TO_REFUND, 'The order has no crypto quote', 'orderId');
    const counted = await storage.countedFor(quote.id);
    let excessTokens: bigint;
    let excessMinor: bigint;
    if (quote.status === 'PAID') {
      excessTokens = counted.amount - BigInt(quote.amount);
      excessMinor = counted.creditedMinor - quote.priceMinor;
    } else {
      // Never paid in full: once its top-up window is over the order expires and all it received goes back.
      const windowEnd = quote.expiresAt.getTime() + deps.topUpMinutes * MINUTE;
      if (now().getTime() <= windowEnd)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `The quote takes top-ups until ${new Date(windowEnd).toISOString()}`,
          'orderId',
        );
      excessTokens = counted.amount;
      excessMinor = counted.creditedMinor;
      if (excessMinor > 0n && (order.status === 'PENDING' || order.status === 'UNDERPAID'))
        await orders.expire(order.id, 'crypto quote and its top-up window ran out, underpaid');
    }
    if (excessTokens <= 0n || excessMinor <= 0n)
      throw new DomainError(CryptoError.NOTHING_TO_REFUND, 'Nothing was paid beyond the quote', 'orderId');
    const payments = await storage.countedPayments(quote.id);
    const payer = payments.at(-1)?.payer ?? ZeroAddress;
    const result = await settlement.refund({
      orderId: order.id,
      provider: 'CRYPTO',
      providerRefundId: `excess:${quote.id}`,
      amountMinor: excessMinor,
      currency: order.currency,
      reason:
        reason?.trim() || `crypto excess of ${excessTokens} ${quote.tokenSymbol} units back to ${payer}`,
      // The cash account the payments were booked to (cash:crypto:<token>).
      details: {
        token: quote.tokenSymbol,
        tokenAddress: quote.token,
        tokenAmount: excessTokens.toString(),
        payer,
      },
    });
    if (!result.ok) throw new DomainError(result.error.code, result.error.message, 'orderId');
    await storage.markExcessRefunded(quote.id, now());
    return {
      quote: (await storage.quoteById(quote.id))!,
      token: quote.token,
      amount: excessTokens.toString(),
      payer,
      refundedMinor: excessMinor.toString(),
    };
  }

  async function setRate(principal: Principal, symbol: string, currency: string, rate: string) {
    const adminId = requireAdmin(principal);
    const cleanSymbol = symbol.trim().toUpperCase();
    const cleanCurrency = currency.trim().toUpperCase();
    if (!/^[A-Z0-9]{1,12}$/.test(cleanSymbol))
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'symbol must be 1–12 letters or digits', 'symbol');
    if (!/^[A-Z]{3}$/.test(cleanCurrency))
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'currency must be an ISO 4217 code', 'currency');
    const parsed = parseRate(rate);
    if (!parsed)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        'rate must be a positive decimal (minor units per token)',
        'rate',
      );
    await storage.setAdminRate(cleanSymbol, cleanCurrency, formatRate(parsed), adminId);
    return { symbol: cleanSymbol, currency: cleanCurrency, rate: formatRate(parsed) };
  }

  async function needingReview(principal: Principal, first: number) {
    requireAdmin(principal);
    return storage.needingReview(Math.min(Math.max(first, 1), 200));
  }

  /** The latest quote of an order, for its buyer or an administrator. */
  async function quoteOf(principal: Principal, order: { id: string; buyerId: string }) {
    if (!canSeeBuyersData(principal, order.buyerId)) return null;
    return (await storage.latestQuote(order.id)) ?? null;
  }

  /** A quote as the API shows it (status EXPIRED computed when its time ran out unpaid). */
  async function present(quote: CryptoQuoteRow) {
    const counted = await storage.countedFor(quote.id);
    const quoted = BigInt(quote.amount);
    const expired =
      quote.status === 'ACTIVE' && quote.expiresAt.getTime() < now().getTime() && counted.amount === 0n;
    return {
      ...quote,
      status: expired ? 'EXPIRED' : quote.status,
      priceMinor: quote.priceMinor.toString(),
      received: counted.amount.toString(),
      excess: (counted.amount > quoted ? counted.amount - quoted : 0n).toString(),
      excessRefunded: quote.excessRefundedAt !== null,
    };
  }

  return {
    createQuote,
    received,
    reorganized,
    processPending,
    resolve,
    refundExcess,
    setRate,
    needingReview,
    quoteOf,
    present,
  };
}

export type CryptoManager = ReturnType<typeof createCryptoManager>;
