import type { Provider } from '../orders/orders-storage.js';

/**
 * The chart of accounts. Money received sits in customer-deposits (owed to the buyer) until an invoice
 * recognises it as revenue and VAT; whatever was paid beyond the invoice stays there until refunded.
 *
 *   PAYMENT      Dr cash:<provider>           Cr customer-deposits
 *   INVOICE      Dr customer-deposits         Cr revenue:certification, tax:vat-payable
 *   CREDIT_NOTE  Dr refunds, tax:vat-payable  Cr customer-deposits
 *   REFUND       Dr customer-deposits         Cr cash:<provider>
 */
export const Account = {
  customerDeposits: 'customer-deposits',
  revenue: (itemType: string) => (itemType === 'programme' ? 'revenue:certification' : `revenue:${itemType}`),
  vatPayable: 'tax:vat-payable',
  refunds: 'refunds',
  cash(provider: Provider, details?: Record<string, unknown>): string {
    if (provider === 'STRIPE') return 'cash:stripe';
    if (provider === 'PAYPAL') return 'cash:paypal';
    // One account per token (cash:crypto:eth, cash:crypto:usdc): the crypto module names it in details.token.
    const token =
      typeof details?.token === 'string' ? details.token.toLowerCase().replace(/[^a-z0-9]/g, '') : '';
    return token ? `cash:crypto:${token.slice(0, 40)}` : 'cash:crypto';
  },
};

export interface LedgerLine {
  account: string;
  provider: Provider | null;
  debitMinor: bigint;
  creditMinor: bigint;
  currency: string;
}

export const debit = (account: string, amount: bigint, currency: string, provider: Provider | null = null) =>
  ({ account, provider, debitMinor: amount, creditMinor: 0n, currency }) satisfies LedgerLine;
export const credit = (account: string, amount: bigint, currency: string, provider: Provider | null = null) =>
  ({ account, provider, debitMinor: 0n, creditMinor: amount, currency }) satisfies LedgerLine;
