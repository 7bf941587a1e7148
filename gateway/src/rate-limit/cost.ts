import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/**
 * A static estimate of what an operation will cost, before it runs (GitHub's node-count model): every field
 * costs 1, and a field taking `first`/`last` multiplies what it selects by that page size — the argument,
 * else its schema default, else 10 for a list. Used to weigh rate limits, so one query for 100×100 nodes is
 * not billed like one for a name.
 */
const DEFAULT_PAGE = 10;
const MAX_PAGE = 100;

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

function pageSize(
  field: FieldNode,
  definition: GraphQLField<unknown, unknown> | undefined,
  variables: Record<string, unknown>,
): number {
  const clamp = (size: unknown) =>
    typeof size === 'number' && Number.isFinite(size) ? Math.min(Math.max(size, 1), MAX_PAGE) : DEFAULT_PAGE;
  const argument = field.arguments?.find((arg) => arg.name.value === 'first' || arg.name.value === 'last');
  if (argument) {
    const read = (value: ValueNode): unknown =>
      value.kind === Kind.VARIABLE
        ? variables[value.name.value]
        : value.kind === Kind.INT
          ? Number(value.value)
          : undefined;
    return clamp(read(argument.value));
  }
  const declared = definition?.args.find((arg) => arg.name === 'first' || arg.name === 'last');
  if (declared) return clamp(declared.defaultValue);
  return definition && isList(definition.type) ? DEFAULT_PAGE : 1;
}

export function estimateCost(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> = {},
  schema?: GraphQLSchema,
): number {
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName ? operations.find((op) => op.name?.value === operationName) : operations[0];
  if (!operation) return 1;
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  const visiting = new Set<string>();
  const typeNamed = (name: string | undefined) =>
    (name && schema ? schema.getType(name) : undefined) ?? undefined;
  const costOf = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        const definition =
          parent && (isObjectType(parent) || isInterfaceType(parent))
            ? parent.getFields()[selection.name.value]
            : undefined;
        const inner = selection.selectionSet
          ? costOf(selection.selectionSet, definition ? getNamedType(definition.type) : undefined)
          : 0;
        // A connection's page size already multiplied its edges: they are not a second list.
        const multiplier = parent?.name.endsWith('Connection')
          ? 1
          : pageSize(selection, definition, variables);
        total += 1 + inner * multiplier;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += costOf(selection.selectionSet, typeNamed(selection.typeCondition?.name.value) ?? parent);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visiting.has(name)) {
          visiting.add(name);
          total += costOf(fragment.selectionSet, typeNamed(fragment.typeCondition.name.value) ?? parent);
          visiting.delete(name);
        }
      }
    }
    return total;
  };
  return Math.max(1, costOf(operation.selectionSet, schema?.getRootType(operation.operation) ?? undefined));
}
