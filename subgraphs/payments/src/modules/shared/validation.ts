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
