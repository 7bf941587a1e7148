import { GraphQLError, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, shield, type IRules } from 'graphql-shield';
import { ErrorCode } from '../errors.js';

export { allow, and, or, rule } from 'graphql-shield';

/**
 * Ownership rules (graphql-shield) over a subgraph's schema: who may read which record, decided in the
 * subgraph that has the data. The gateway has already enforced @authenticated / @requiresScopes; these rules
 * answer "is it theirs". A refused field is null with a FORBIDDEN error; anything without a rule is allowed,
 * and resolvers' own errors pass through unchanged.
 */
export function applyOwnershipRules(schema: GraphQLSchema, rules: IRules): GraphQLSchema {
  return applyMiddleware(
    schema,
    shield(rules, {
      fallbackRule: allow,
      allowExternalErrors: true,
      fallbackError: () =>
        new GraphQLError('Not yours to see', { extensions: { code: ErrorCode.FORBIDDEN } }),
    }),
  );
}
