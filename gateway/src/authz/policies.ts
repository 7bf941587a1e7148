import type { Principal } from '@symbeon/kernel';
import type { AuthzSubject, PolicyFunction } from './principal-check.js';

/** What @policy functions see: the caller as the gateway authenticated it. */
export interface GatewaySubject extends AuthzSubject {
  principal: Principal;
}

export function subjectOf(principal: Principal): GatewaySubject {
  return {
    principal,
    authenticated: principal.kind !== 'anonymous',
    scopes: new Set(principal.kind === 'anonymous' ? [] : principal.scopes),
  };
}

const hasRole = (role: string) => (subject: GatewaySubject) =>
  subject.principal.kind !== 'anonymous' && subject.principal.roles.includes(role);

/**
 * The policies subgraph schemas may name in @policy. Each is a rule over the caller alone (the gateway
 * decides before anything runs); rules that depend on the data — whose record it is — belong to the
 * owning subgraph.
 */
export const gatewayPolicies: Readonly<Record<string, PolicyFunction<GatewaySubject>>> = {
  admin: hasRole('ADMIN'),
  issuer: hasRole('ISSUER'),
  auditor: hasRole('AUDITOR'),
  /** A person signed in, not a program with an API key (e.g. changing one's own credentials). */
  human: (subject) => subject.principal.kind === 'user',
};
