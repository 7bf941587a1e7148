import { GraphQLError } from 'graphql';
import type { z } from 'zod';

/** Error codes clients can rely on (extensions.code). */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  INVALID_STATE: 'INVALID_STATE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An unexpected-but-coded failure: the gateway shows coded errors and masks uncoded ones. */
export function codedError(code: string, message: string, extensions: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/** The `error` of a `{ ok, error }` mutation result: expected failures are data, not exceptions. */
export interface UserError {
  code: string;
  message: string;
  /** Input path of the offending field, e.g. `input.slug`. */
  field?: string | null;
}

export type Result<T> = ({ ok: true; error: null } & T) | { ok: false; error: UserError };

export function ok<T extends object>(value: T): { ok: true; error: null } & T {
  return { ok: true, error: null, ...value };
}

export function fail(code: string, message: string, field?: string): { ok: false; error: UserError } {
  return { ok: false, error: { code, message, field: field ?? null } };
}

/** Thrown by managers for expected failures; resolvers turn it into a `{ ok: false }` result. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/**
 * Runs a mutation body and maps a DomainError to `{ ok: false, error }`. Anything else propagates and is
 * masked by the gateway as INTERNAL_SERVER_ERROR.
 */
export async function asResult<T extends object>(
  body: () => Promise<T>,
): Promise<({ ok: true; error: null } & T) | { ok: false; error: UserError }> {
  try {
    return ok(await body());
  } catch (error) {
    if (error instanceof DomainError) return fail(error.code, error.message, error.field);
    throw error;
  }
}

/** Formats a zod error into a DomainError naming the first offending field. */
export function inputError(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, root = 'input') {
  const first = issues[0];
  const field = first ? [root, ...first.path.map(String)].join('.') : root;
  const message = issues
    .map((issue) => `${[root, ...issue.path.map(String)].join('.')}: ${issue.message}`)
    .join('; ');
  return new DomainError(ErrorCode.BAD_USER_INPUT, message, field);
}

/** Parses input with a zod schema or throws BAD_USER_INPUT naming the fields (`input.slug`...). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, root = 'input'): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw inputError(parsed.error.issues, root);
  return parsed.data;
}
