import { z } from 'zod';
import { DomainError, ErrorCode, inputError } from '@symbeon/kernel';

export const uuid = z.uuid({ message: 'must be an id returned by this API' });

/** Parses input or throws BAD_USER_INPUT naming the field (`input.slug`...). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, root = 'input'): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw inputError(parsed.error.issues, root);
  return parsed.data;
}

/** An id argument that is not a uuid names nothing: NOT_FOUND, without a database type error. */
export function requireUuid(id: string, what: string, field: string): string {
  if (!uuid.safeParse(id).success)
    throw new DomainError(ErrorCode.NOT_FOUND, `No ${what} with id "${id}"`, field);
  return id;
}

export function isUuid(id: string): boolean {
  return uuid.safeParse(id).success;
}
