import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';

/**
 * Ownership rules the gateway cannot decide (they depend on the data): the gateway has already enforced
 * @authenticated / @requiresScopes on the fields; these check whose data it is.
 */
export const isAdmin = (principal: Principal) =>
  principal.kind !== 'anonymous' && principal.roles.includes('ADMIN');

export const canWriteLearning = (principal: Principal) =>
  principal.kind !== 'anonymous' && principal.scopes.includes('learning:write');

export function isOwnerOrAdmin(principal: Principal, userId: string): boolean {
  return principal.kind !== 'anonymous' && (principal.userId === userId || isAdmin(principal));
}

/** The user an action is for: the caller, or — for administrators only — the one named. */
export function actingUserId(
  principal: Principal,
  requested: string | null | undefined,
  field = 'userId',
): string {
  if (principal.kind === 'anonymous') throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
  if (requested == null || requested === principal.userId) return principal.userId;
  if (!isAdmin(principal))
    throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators act for other users', field);
  return requested;
}
