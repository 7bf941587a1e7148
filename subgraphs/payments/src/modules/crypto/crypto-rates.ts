import { formatRate, parseRate, type Rate } from './crypto-amounts.js';

/** Where a quote's rate came from, stated on the quote (`rateSource`). */
export interface QuotedRate {
  rate: Rate;
  /** e.g. "DEV_FIXED_RATE (not a market price)" or "ADMIN_RATE set 2026-11-29T10:00:00.000Z". */
  source: string;
}

/**
 * The rate source port: the price of one whole `symbol` (ETH, USDC...) in `currency`'s minor units, or
 * undefined when this source has none. Implementations: the admin-set table (crypto_rates, set with
 * `setCryptoRate`, the production source) and the fixed dev rates (embedded profile only). A Chainlink
 * AggregatorV3 reader would be a third implementation of this port; none exists yet.
 */
export interface RateSource {
  rate(symbol: string, currency: string): Promise<QuotedRate | undefined>;
}

/** Test tokens are priced like what they imitate (tUSDC like USDC). */
const canonicalSymbol = (symbol: string) => {
  const upper = symbol.toUpperCase();
  return upper === 'TUSDC' ? 'USDC' : upper;
};

export const pairKey = (symbol: string, currency: string) =>
  `${canonicalSymbol(symbol)}/${currency.toUpperCase()}`;

/**
 * Labelled development rates: EUR 3,000.00 and USD 3,300.00 per ETH (and POL at 0.50 / 0.55), USDC at EUR 0.92
 * and USD 1.00. Never market prices; used in the embedded profile only, and overridden by
 * PAYMENTS_CRYPTO_DEV_RATES.
 */
export const DEFAULT_DEV_RATES: Record<string, string> = {
  'ETH/EUR': '300000',
  'ETH/USD': '330000',
  'POL/EUR': '50',
  'POL/USD': '55',
  'USDC/EUR': '92',
  'USDC/USD': '100',
};

export const DEV_RATE_LABEL = 'DEV_FIXED_RATE (not a market price)';

/** Parses PAYMENTS_CRYPTO_DEV_RATES (JSON {"ETH/EUR":"300000"}); throws naming the bad entry. */
export function parseDevRates(json: string | undefined): Map<string, Rate> {
  const source: unknown = json ? JSON.parse(json) : DEFAULT_DEV_RATES;
  if (typeof source !== 'object' || source === null || Array.isArray(source))
    throw new Error('PAYMENTS_CRYPTO_DEV_RATES must be a JSON object like {"ETH/EUR":"300000"}');
  const rates = new Map<string, Rate>();
  for (const [pair, value] of Object.entries(source)) {
    const [symbol, currency, extra] = pair.split('/');
    const rate =
      typeof value === 'string' || typeof value === 'number' ? parseRate(String(value)) : undefined;
    if (!symbol || !currency || extra !== undefined || !rate)
      throw new Error(
        `PAYMENTS_CRYPTO_DEV_RATES: "${pair}": "${String(value)}" is not "<TOKEN>/<CURRENCY>": "<minor units per whole token>"`,
      );
    rates.set(pairKey(symbol, currency), rate);
  }
  return rates;
}

export function devRateSource(rates: Map<string, Rate>): RateSource {
  return {
    rate: (symbol, currency) => {
      const rate = rates.get(pairKey(symbol, currency));
      return Promise.resolve(rate ? { rate, source: DEV_RATE_LABEL } : undefined);
    },
  };
}

/** The first source that has a rate wins (admin-set rates before the dev ones). */
export function firstRateSource(sources: RateSource[]): RateSource {
  return {
    async rate(symbol, currency) {
      for (const source of sources) {
        const found = await source.rate(symbol, currency);
        if (found) return found;
      }
      return undefined;
    },
  };
}

export { formatRate };
