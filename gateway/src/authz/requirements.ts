import { Kind, parse, valueFromASTUntyped, type ConstDirectiveNode, type DocumentNode } from 'graphql';

/**
 * What the supergraph requires to see a type or a field, read from the @authenticated, @requiresScopes and
 * @policy applications composition copies into it (federation 2.5/2.6 authorization directives).
 * Each list entry is one directive application; all of them must hold. Inside one, `[[a, b], [c]]` means
 * (a AND b) OR c.
 */
export interface Requirement {
  authenticated: boolean;
  scopes: string[][][];
  policies: string[][][];
}

export interface AuthzRequirements {
  types: ReadonlyMap<string, Requirement>;
  /** Keyed `Type.field`. */
  fields: ReadonlyMap<string, Requirement>;
  /** Every policy name the supergraph uses; each must have a registered policy function. */
  policyNames: ReadonlySet<string>;
  /** False when the supergraph uses none of the directives: the enforcer steps aside. */
  any: boolean;
}

const SECURITY_SPECS =
  /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes|policy)\/v[\d.]+"), for: SECURITY\)/g;

/**
 * ApolloGateway refuses supergraphs whose security features it does not implement. The enforcer reads the
 * requirements from the original; the gateway loads this copy, identical but for those three @link
 * applications no longer being marked `for: SECURITY`.
 */
export function supergraphForGateway(sdl: string): string {
  return sdl.replace(SECURITY_SPECS, '$1)');
}

function readRequirement(directives: readonly ConstDirectiveNode[] | undefined): Requirement | undefined {
  if (!directives?.length) return undefined;
  const requirement: Requirement = { authenticated: false, scopes: [], policies: [] };
  let found = false;
  for (const directive of directives) {
    const name = directive.name.value;
    if (name === 'authenticated') {
      requirement.authenticated = true;
      found = true;
    } else if (name === 'requiresScopes' || name === 'policy') {
      const argument = directive.arguments?.find(
        (arg) => arg.name.value === (name === 'policy' ? 'policies' : 'scopes'),
      );
      if (!argument) continue;
      const value = valueFromASTUntyped(argument.value) as string[][];
      (name === 'policy' ? requirement.policies : requirement.scopes).push(value);
      found = true;
    }
  }
  return found ? requirement : undefined;
}

export function extractRequirements(supergraphSdl: string | DocumentNode): AuthzRequirements {
  if (supergraphSdl === '')
    return { types: new Map(), fields: new Map(), policyNames: new Set(), any: false };
  const document = typeof supergraphSdl === 'string' ? parse(supergraphSdl) : supergraphSdl;
  const types = new Map<string, Requirement>();
  const fields = new Map<string, Requirement>();
  const policyNames = new Set<string>();
  const note = (requirement: Requirement | undefined) => {
    for (const alternatives of requirement?.policies ?? [])
      for (const all of alternatives) for (const p of all) policyNames.add(p);
    return requirement;
  };
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.SCALAR_TYPE_DEFINITION &&
      definition.kind !== Kind.ENUM_TYPE_DEFINITION
    ) {
      continue;
    }
    const typeRequirement = note(readRequirement(definition.directives));
    if (typeRequirement) types.set(definition.name.value, typeRequirement);
    if (
      definition.kind === Kind.OBJECT_TYPE_DEFINITION ||
      definition.kind === Kind.INTERFACE_TYPE_DEFINITION
    ) {
      for (const field of definition.fields ?? []) {
        const fieldRequirement = note(readRequirement(field.directives));
        if (fieldRequirement) fields.set(`${definition.name.value}.${field.name.value}`, fieldRequirement);
      }
    }
  }
  return { types, fields, policyNames, any: types.size + fields.size > 0 };
}
