import { DomainError, ErrorCode } from '../errors.js';

/** Relay cursor connections over keyset pagination: cursors are opaque, stable under inserts. */
export interface Edge<TNode> {
  cursor: string;
  node: TNode;
}

export interface Connection<TNode> {
  edges: Edge<TNode>[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new DomainError(ErrorCode.BAD_USER_INPUT, `first must be between 0 and ${MAX_PAGE_SIZE}`, 'first');
  }
  return size;
}

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor made by encodeCursor with the same shape, or refuses it with BAD_USER_INPUT. */
export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === shape.length &&
      value.every((part, index) => typeof part === shape[index])
    ) {
      return value as (string | number)[];
    }
  } catch {
    // fall through to the error below
  }
  throw new DomainError(
    ErrorCode.BAD_USER_INPUT,
    'after is not a cursor returned by this connection',
    'after',
  );
}

/** Builds a connection from `size + 1` rows fetched after the cursor: the extra row proves a next page. */
export function toConnection<TRow, TNode = TRow>(
  rows: TRow[],
  size: number,
  cursorOf: (row: TRow) => readonly (string | number)[],
  hadCursor: boolean,
  toNode: (row: TRow) => TNode = (row) => row as unknown as TNode,
): Connection<TNode> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ cursor: encodeCursor(cursorOf(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: hadCursor,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
