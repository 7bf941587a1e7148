import { z } from 'zod';
import { DomainError, ErrorCode } from '@symbeon/kernel';

export { parseInput } from '@symbeon/kernel';

export const uuid = z.uuid({ message: 'must be an id returned by this API' });

/** An id argument that is not a uuid names nothing: NOT_FOUND, without a database type error. */
export function requireUuid(id: string, what: string, field: string): string {
  if (!uuid.safeParse(id).success)
    throw new DomainError(ErrorCode.NOT_FOUND, `No ${what} with id "${id}"`, field);
  return id;
}

export function isUuid(id: string): boolean {
  return uuid.safeParse(id).success;
}
