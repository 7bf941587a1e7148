import {
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { satisfies, type AuthzSubject, type PolicyFunction } from './principal-check.js';
import type { AuthzRequirements, Requirement } from './requirements.js';

/** One step of a response path: the response key, its field type, and the type it applies to (fragments). */
export interface PathSegment {
  key: string;
  type: GraphQLOutputType;
  /** Set inside a type-conditioned fragment: the step only applies to objects of this type. */
  onType?: string;
}

export interface Removal {
  /** From the root to the removed field (last). */
  segments: PathSegment[];
}

export interface FilterResult {
  /** The operation to plan: unchanged when everything requested is allowed. */
  document: DocumentNode;
  removals: Removal[];
  /** Nothing requested is allowed: answer `data: null` without planning. */
  empty: boolean;
}

/** Alias under which the enforcer asks for __typename where it must tell fragment types apart. */
export const TYPE_PROBE = '__symbeon_authz_type';

function inlineFragments(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
): SelectionSetNode {
  return {
    ...selectionSet,
    selections: selectionSet.selections.map((selection): SelectionNode => {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment) return selection;
        const inline: InlineFragmentNode = {
          kind: Kind.INLINE_FRAGMENT,
          typeCondition: fragment.typeCondition,
          directives: selection.directives ?? [],
          selectionSet: inlineFragments(fragment.selectionSet, fragments),
        };
        return inline;
      }
      if (selection.selectionSet)
        return { ...selection, selectionSet: inlineFragments(selection.selectionSet, fragments) };
      return selection;
    }),
  };
}

/**
 * Removes what the caller may not see from an operation before it is planned (Apollo Router's semantics),
 * remembering where, so the response can carry `null` and an UNAUTHORIZED_FIELD_OR_TYPE error there.
 * Requirements on a type apply to every field returning it; composition has already propagated
 * implementations' requirements onto interface fields.
 */
export function filterOperation<TSubject extends AuthzSubject>(options: {
  schema: GraphQLSchema;
  requirements: AuthzRequirements;
  document: DocumentNode;
  operationName?: string | null;
  subject: TSubject;
  policies: Readonly<Record<string, PolicyFunction<TSubject>>>;
}): FilterResult {
  const { schema, requirements, subject, policies } = options;
  const operations = options.document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = options.operationName
    ? operations.find((candidate) => candidate.name?.value === options.operationName)
    : operations[0];
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return { document: options.document, removals: [], empty: false };

  const removals: Removal[] = [];
  const allowed = (requirement: Requirement | undefined) =>
    !requirement || satisfies(requirement, subject, policies);

  function filterSet(
    selectionSet: SelectionSetNode,
    parent: GraphQLCompositeType,
    path: PathSegment[],
    onType: string | undefined,
  ): SelectionSetNode | null {
    const kept: SelectionNode[] = [];
    let needsProbe = false;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__') || (!isObjectType(parent) && !isInterfaceType(parent))) {
          kept.push(selection);
          continue;
        }
        const definition = parent.getFields()[name];
        if (!definition) {
          kept.push(selection);
          continue;
        }
        const segment: PathSegment = {
          key: selection.alias?.value ?? name,
          type: definition.type,
          ...(onType ? { onType } : {}),
        };
        const returned = getNamedType(definition.type);
        if (
          !allowed(requirements.fields.get(`${parent.name}.${name}`)) ||
          !allowed(requirements.types.get(returned.name))
        ) {
          removals.push({ segments: [...path, segment] });
          continue;
        }
        if (selection.selectionSet) {
          const child = filterSet(
            selection.selectionSet,
            returned as GraphQLCompositeType,
            [...path, segment],
            undefined,
          );
          if (!child) {
            // Nothing left to select below: the field goes too, and answers null like a removed one.
            removals.push({ segments: [...path, segment] });
            continue;
          }
          kept.push({ ...selection, selectionSet: child } satisfies FieldNode);
        } else {
          kept.push(selection);
        }
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const conditionName = selection.typeCondition?.name.value;
        const condition = conditionName
          ? (schema.getType(conditionName) as GraphQLCompositeType | undefined)
          : parent;
        if (!condition || !allowed(requirements.types.get(condition.name))) continue;
        const narrowed =
          conditionName && conditionName !== parent.name && isAbstractType(parent) ? conditionName : onType;
        const before = removals.length;
        const child = filterSet(selection.selectionSet, condition, path, narrowed);
        if (removals.length > before && narrowed && narrowed !== onType) needsProbe = true;
        if (child) kept.push({ ...selection, selectionSet: child });
        continue;
      }
      kept.push(selection);
    }
    if (kept.length === 0) return null;
    if (needsProbe) {
      kept.push({
        kind: Kind.FIELD,
        alias: { kind: Kind.NAME, value: TYPE_PROBE },
        name: { kind: Kind.NAME, value: '__typename' },
      });
    }
    return { ...selectionSet, selections: kept };
  }

  const fragments = new Map(
    options.document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const inlined = inlineFragments(operation.selectionSet, fragments);
  const filtered = filterSet(inlined, root, [], undefined);
  if (removals.length === 0) return { document: options.document, removals, empty: false };
  if (!filtered) return { document: options.document, removals, empty: true };
  return {
    document: { kind: Kind.DOCUMENT, definitions: [{ ...operation, selectionSet: filtered }] },
    removals,
    empty: false,
  };
}
