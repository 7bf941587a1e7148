import { GraphQLError, isListType, isNonNullType, type GraphQLOutputType } from 'graphql';
import { TYPE_PROBE, type PathSegment, type Removal } from './filter.js';

export const UNAUTHORIZED_FIELD_OR_TYPE = 'UNAUTHORIZED_FIELD_OR_TYPE';

type Path = ReadonlyArray<string | number>;
type Data = Record<string, unknown>;

export function unauthorizedError(path: Path): GraphQLError {
  return new GraphQLError('Unauthorized field or type', {
    path: [...path],
    extensions: { code: UNAUTHORIZED_FIELD_OR_TYPE },
  });
}

/**
 * Puts the removed fields back into the response as `null`, with an error at each path, and lets the nulls
 * propagate as GraphQL requires: a removed non-null field nulls its parent object, up to the nearest
 * nullable field (or `data`).
 */
export function reshapeResponse(data: Data | null | undefined, removals: readonly Removal[]) {
  const errors: GraphQLError[] = [];
  if (!data) return { data: data ?? null, errors };
  const seen = new Set<string>();
  let root: Data | null = data;

  const visitValue = (
    value: unknown,
    type: GraphQLOutputType,
    removal: Removal,
    index: number,
    path: Path,
  ): boolean => {
    if (value === null || value === undefined) return false;
    if (isNonNullType(type)) return visitValue(value, type.ofType, removal, index, path);
    if (isListType(type)) {
      const list = value as unknown[];
      for (let position = 0; position < list.length; position += 1) {
        if (visitValue(list[position], type.ofType, removal, index, [...path, position])) {
          list[position] = null;
          if (isNonNullType(type.ofType)) return true;
        }
      }
      return false;
    }
    return visitObject(value as Data, removal, index, path);
  };

  /** @returns true when the object itself must become null. */
  const visitObject = (object: Data, removal: Removal, index: number, path: Path): boolean => {
    const segment = removal.segments[index] as PathSegment;
    if (segment.onType && object[TYPE_PROBE] !== undefined && object[TYPE_PROBE] !== segment.onType)
      return false;
    const fieldPath = [...path, segment.key];
    if (index === removal.segments.length - 1) {
      const key = fieldPath.join('.');
      if (!seen.has(key)) {
        seen.add(key);
        errors.push(unauthorizedError(fieldPath));
      }
      object[segment.key] = null;
      return isNonNullType(segment.type);
    }
    if (visitValue(object[segment.key], segment.type, removal, index + 1, fieldPath)) {
      object[segment.key] = null;
      return isNonNullType(segment.type);
    }
    return false;
  };

  for (const removal of removals) {
    if (root && visitObject(root, removal, 0, [])) root = null;
  }
  if (root) stripProbes(root);
  return { data: root, errors };
}

function stripProbes(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) stripProbes(item);
  } else if (value && typeof value === 'object') {
    const object = value as Data;
    delete object[TYPE_PROBE];
    for (const child of Object.values(object)) stripProbes(child);
  }
}
