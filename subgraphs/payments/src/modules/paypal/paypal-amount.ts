/**
 * Minor units ↔ PayPal's decimal strings, exactly (bigint and string arithmetic, never floats). PayPal's
 * currencies without decimals: JPY, HUF, TWD (PayPal rounds HUF and TWD to whole units, unlike ISO 4217).
 */
const ZERO_DECIMAL = new Set(['JPY', 'HUF', 'TWD']);

export function currencyDecimals(currency: string): number {
  return ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
}

/** 4900n EUR → "49.00"; 500n JPY → "500". */
export function minorToDecimal(amountMinor: bigint, currency: string): string {
  if (amountMinor < 0n) throw new RangeError('amounts are never negative');
  const decimals = currencyDecimals(currency);
  if (decimals === 0) return amountMinor.toString();
  const digits = amountMinor.toString().padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** "49.00" EUR → 4900n; "49" → 4900n; "49.001" or "4.9e1" → undefined (not an amount PayPal sends). */
export function decimalToMinor(value: string, currency: string): bigint | undefined {
  const decimals = currencyDecimals(currency);
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) return undefined;
  return BigInt(match[1]!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
}
