import { decodeCursor, DomainError, ErrorCode } from '@symbeon/kernel';
import { z } from 'zod';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

export const uuidField = z.string().regex(UUID, 'must be an id (UUID)');
/** ISO 4217 code, upper-cased. */
export const currencyField = z
  .string()
  .trim()
  .transform((value) => value.toUpperCase())
  .pipe(z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code'));
/** Money in minor units: a positive integer, as a bigint. */
export const positiveMinorField = z.bigint().positive('must be more than zero');

/** A keyset cursor (time, id) made by encodeCursor; anything else is BAD_USER_INPUT on `after`. */
export function timeCursor(after: string | null | undefined): { at: Date; id: string } | undefined {
  if (!after) return undefined;
  const [at, id] = decodeCursor(after, ['string', 'string']);
  const date = new Date(String(at));
  if (Number.isNaN(date.getTime()) || !isUuid(String(id)))
    throw new DomainError(
      ErrorCode.BAD_USER_INPUT,
      'after is not a cursor returned by this connection',
      'after',
    );
  return { at: date, id: String(id) };
}
