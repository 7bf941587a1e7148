import { keccak256, toUtf8Bytes } from 'ethers';

/**
 * Integer arithmetic for crypto quotes. A rate is the price of ONE WHOLE token (1 ETH, 1 USDC) in the
 * currency's minor units, as an exact fraction `numerator / denominator` (a decimal string "300000.5" is
 * 3000005 / 10). Amounts of tokens are integers in the token's smallest unit (wei; 10^-6 USDC). No floats.
 */
export interface Rate {
  numerator: bigint;
  denominator: bigint;
}

const DECIMAL = /^(\d{1,30})(?:\.(\d{1,18}))?$/;

/** "300000" or "300000.25" (minor units per whole token) → an exact positive fraction; undefined otherwise. */
export function parseRate(text: string): Rate | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  const numerator = BigInt(`${match[1]}${fraction}`);
  if (numerator === 0n) return undefined;
  return { numerator, denominator: 10n ** BigInt(fraction.length) };
}

export const formatRate = (rate: Rate): string => {
  const whole = rate.numerator / rate.denominator;
  const rest = rate.numerator % rate.denominator;
  if (rest === 0n) return whole.toString();
  const digits = rate.denominator.toString().length - 1;
  return `${whole}.${rest.toString().padStart(digits, '0').replace(/0+$/, '')}`;
};

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/**
 * What the payer must send for `priceMinor`: priceMinor × 10^decimals / rate, rounded UP to the token's
 * smallest unit, so that the amount received is never worth less than the price at the quoted rate.
 */
export function tokenAmountFor(priceMinor: bigint, rate: Rate, decimals: number): bigint {
  return ceilDiv(priceMinor * 10n ** BigInt(decimals) * rate.denominator, rate.numerator);
}

/** What `amount` token units are worth at `rate`, rounded DOWN to the currency's minor unit. */
export function minorValueOf(amount: bigint, rate: Rate, decimals: number): bigint {
  return (amount * rate.numerator) / (10n ** BigInt(decimals) * rate.denominator);
}

/**
 * BTCPay's "payment tolerance": a total this many basis points short of the quoted amount (network fees
 * taken by a wallet, a rounding in the payer's wallet) still pays the order in full. 10 bps = 0.1 %.
 */
export const UNDERPAYMENT_TOLERANCE_BPS = 10n;

/** The least total (token units) that pays a quote of `quoted` in full. */
export const fullPaymentThreshold = (quoted: bigint): bigint =>
  quoted - (quoted * UNDERPAYMENT_TOLERANCE_BPS) / 10_000n;

/**
 * The order-currency value credited for a running total of `received` token units against a quote of
 * `quoted` units for an order of `priceMinor`: the price exactly once the total reaches the full-payment
 * threshold (so rounding and the tolerance never leave an order a cent short), plus the value of whatever
 * exceeds the quote; below the threshold, its value at the quoted rate (rounded down, and always short of
 * the price). Monotonic in `received`, so each payment is credited `credited(after) - credited(before)`.
 */
export function creditedMinor(received: bigint, quoted: bigint, priceMinor: bigint): bigint {
  if (received >= fullPaymentThreshold(quoted)) {
    const excess = received > quoted ? received - quoted : 0n;
    return priceMinor + (excess * priceMinor) / quoted;
  }
  const value = (received * priceMinor) / quoted;
  return value < priceMinor ? value : priceMinor - 1n;
}

/** The bytes32 an order is paid under: keccak256 of its id (public anyway; nothing to guess). */
export const orderRefOf = (orderId: string): string => keccak256(toUtf8Bytes(`symbeon:order:${orderId}`));
