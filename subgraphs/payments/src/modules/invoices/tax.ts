/**
 * VAT on tax-inclusive prices, in integers only. Catalogue prices are what the buyer pays (gross); the
 * tax inside a gross amount G at rate r basis points is G·r / (10000 + r), rounded half up to the minor
 * unit (0.5 goes up), and the net is G − tax, so net + tax = gross exactly, never a cent lost.
 */
export function splitGross(grossMinor: bigint, rateBps: number): { netMinor: bigint; taxMinor: bigint } {
  if (!Number.isInteger(rateBps) || rateBps < 0 || rateBps > 10_000)
    throw new RangeError('rateBps must be an integer between 0 and 10000');
  if (grossMinor < 0n) throw new RangeError('grossMinor must not be negative');
  const rate = BigInt(rateBps);
  const numerator = grossMinor * rate;
  const denominator = 10_000n + rate;
  // floor((2n + d) / 2d) = n/d rounded half up, for n, d ≥ 0.
  const taxMinor = (2n * numerator + denominator) / (2n * denominator);
  return { netMinor: grossMinor - taxMinor, taxMinor };
}

/** "VAT 20%", "VAT 5.5%", and a rate of 0 says so plainly. */
export function vatLabel(rateBps: number): string {
  if (rateBps === 0) return 'VAT 0% (no VAT charged)';
  const whole = Math.trunc(rateBps / 100);
  const fraction = String(rateBps % 100)
    .padStart(2, '0')
    .replace(/0+$/, '');
  return `VAT ${whole}${fraction ? `.${fraction}` : ''}%`;
}
