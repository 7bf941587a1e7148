import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';

/** Roles as the gateway vouched for them in the internal token. */
export const hasRole = (principal: Principal, role: string) =>
  principal.kind !== 'anonymous' && principal.roles.includes(role);

export const isAdmin = (principal: Principal) => hasRole(principal, 'ADMIN');

export function signedInUserId(principal: Principal): string {
  if (principal.kind === 'anonymous') throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
  return principal.userId;
}

/**
 * The gateway enforces @policy(admin) on the programme mutations; the managers repeat the check so that no
 * other path (a test, a future job, a mis-composed supergraph) edits the catalogue without the role.
 */
export function requireAdmin(principal: Principal): string {
  const userId = signedInUserId(principal);
  if (!isAdmin(principal))
    throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators manage programmes');
  return userId;
}
