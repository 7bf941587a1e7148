import { rule, type Principal } from '@symbeon/kernel';
import type { ChainContext } from './context.js';

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.kind !== 'anonymous' && principal.scopes.includes(scope);
}

const scoped = (scope: string) =>
  rule({ cache: 'contextual' })((_: unknown, __: unknown, context: ChainContext) =>
    hasScope(context.principal, scope),
  );

/**
 * The gateway enforces @requiresScopes; these rules repeat it here so that a request that reached the
 * subgraph some other way with a valid token still cannot send transactions (graphql-shield). The
 * subscription checks its scope in its resolver (shield does not wrap subscribe).
 */
export const chainPermissions = {
  Query: { transactions: scoped('transactions:read') },
  Mutation: {
    issueOnChainCertificate: scoped('certificates:issue'),
    revokeOnChainCertificate: scoped('certificates:issue'),
    renewOnChainCertificate: scoped('certificates:issue'),
  },
};
