import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { decodeCursor, encodeCursor, pageSize, toConnection } from './pagination.js';

describe('cursor pagination', () => {
  it('round-trips cursors and refuses forged or mis-shaped ones', () => {
    const cursor = encodeCursor(['2026-11-29T10:00:00.000Z', 'id-1']);
    expect(decodeCursor(cursor, ['string', 'string'])).toEqual(['2026-11-29T10:00:00.000Z', 'id-1']);
    for (const forged of ['not base64 json', encodeCursor(['only-one']), encodeCursor([1, 2])]) {
      expect(() => decodeCursor(forged, ['string', 'string'])).toThrow(DomainError);
    }
  });

  it('bounds page sizes', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(100)).toBe(100);
    for (const bad of [-1, 101, 2.5]) expect(() => pageSize(bad)).toThrow(/between 0 and 100/);
  });

  it('uses the extra row to tell whether there is a next page', () => {
    const rows = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    const page = toConnection(rows, 2, (row) => [row.id], false);
    expect(page.edges.map((edge) => edge.node.id)).toEqual(['a', 'b']);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, endCursor: encodeCursor(['b']) });
    expect(toConnection(rows.slice(0, 2), 2, (row) => [row.id], true).pageInfo.hasNextPage).toBe(false);
  });
});
