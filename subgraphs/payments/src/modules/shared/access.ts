import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';

/** Roles as the gateway vouched for them in the internal token. */
export const hasRole = (principal: Principal, role: string) =>
  principal.kind !== 'anonymous' && principal.roles.includes(role);

export const isAdmin = (principal: Principal) => hasRole(principal, 'ADMIN');

/** The signed-in user (an API key acts for its owner). */
export function signedInUserId(principal: Principal): string {
  if (principal.kind === 'anonymous') throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
  return principal.userId;
}

export const callerId = (principal: Principal): string | undefined =>
  principal.kind === 'anonymous' ? undefined : principal.userId;

/** Orders, payments and invoices are their buyer's (and administrators') only. */
export const canSeeBuyersData = (principal: Principal, buyerId: string) =>
  callerId(principal) === buyerId || isAdmin(principal);

/** The gateway enforces @policy(admin); the managers repeat it so no other path reads the books. */
export function requireAdmin(principal: Principal): string {
  const userId = signedInUserId(principal);
  if (!isAdmin(principal)) throw new DomainError(ErrorCode.FORBIDDEN, 'Administrators only');
  return userId;
}
