import type { Requirement } from './requirements.js';

/** What the enforcer knows of the caller. (The gateway's Principal maps onto it.) */
export interface AuthzSubject {
  authenticated: boolean;
  scopes: ReadonlySet<string>;
}

/** A named rule over the caller, registered in the gateway, referenced by @policy in subgraph schemas. */
export type PolicyFunction<TSubject extends AuthzSubject = AuthzSubject> = (subject: TSubject) => boolean;

export function satisfies<TSubject extends AuthzSubject>(
  requirement: Requirement,
  subject: TSubject,
  policies: Readonly<Record<string, PolicyFunction<TSubject>>>,
): boolean {
  if (requirement.authenticated && !subject.authenticated) return false;
  for (const alternatives of requirement.scopes) {
    if (!alternatives.some((all) => all.every((scope) => subject.scopes.has(scope)))) return false;
  }
  for (const alternatives of requirement.policies) {
    // An unknown policy denies: a typo must never open a field.
    if (!alternatives.some((all) => all.every((name) => policies[name]?.(subject) === true))) return false;
  }
  return true;
}
