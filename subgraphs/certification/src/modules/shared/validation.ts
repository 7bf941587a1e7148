import { z } from 'zod';
import { DomainError, ErrorCode } from '@symbeon/kernel';

export { parseInput } from '@symbeon/kernel';

export const uuid = z.uuid({ message: 'must be an id returned by this API' });

export function isUuid(id: string): boolean {
  return uuid.safeParse(id).success;
}

/** An id argument that is not a uuid names nothing: NOT_FOUND, without a database type error. */
export function requireUuid(id: string, what: string, field: string): string {
  if (!isUuid(id)) throw new DomainError(ErrorCode.NOT_FOUND, `No ${what} with id "${id}"`, field);
  return id;
}

/** GraphQL gives explicit nulls for fields a client sent as null: for non-nullable columns, "unchanged". */
export function withoutNulls(input: unknown, keep: readonly string[] = []): Record<string, unknown> {
  if (typeof input !== 'object' || input === null) return {};
  return Object.fromEntries(
    Object.entries(input).filter(
      ([key, value]) => value !== undefined && (value !== null || keep.includes(key)),
    ),
  );
}
