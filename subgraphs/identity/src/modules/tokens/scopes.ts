/**
 * Roles and the scopes they carry. Access tokens hold both: the gateway checks `@requiresScopes` against
 * `scopes`, and policies may look at `roles`. Scopes are what a token may do, so a role's list is complete
 * on its own (ADMIN repeats ISSUER's and AUDITOR's scopes instead of inheriting them).
 */
export const ROLES = ['MEMBER', 'INSTRUCTOR', 'AUDITOR', 'ISSUER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_SCOPES: Readonly<Record<Role, readonly string[]>> = {
  // Every signed-in user.
  MEMBER: ['profile:read', 'profile:write', 'learning:enroll'],
  // Teaches: writes the catalogue (courses, events).
  INSTRUCTOR: ['learning:write'],
  // certificates:read: follow on-chain certificate events (Subscription.certificateEvents).
  AUDITOR: ['certificates:audit', 'certificates:read'],
  ISSUER: ['certificates:issue', 'certificates:read'],
  ADMIN: [
    'users:admin',
    'roles:admin',
    'learning:write',
    'certificates:issue',
    'certificates:audit',
    'certificates:read',
    'transactions:read',
  ],
};

/**
 * The roles a user's token carries: MEMBER is implicit (role_grants holds only the others). Unknown names
 * are dropped, so a role removed from the code stops granting anything even if rows still name it.
 */
export function rolesFromGrants(granted: readonly string[]): Role[] {
  const held = new Set<string>(['MEMBER', ...granted]);
  return ROLES.filter((role) => held.has(role));
}

/** The union of the roles' scopes, sorted so tokens are stable and comparable. */
export function scopesForRoles(roles: readonly string[]): string[] {
  const byName: Readonly<Record<string, readonly string[] | undefined>> = ROLE_SCOPES;
  const scopes = new Set<string>();
  for (const role of roles) {
    for (const scope of byName[role] ?? []) scopes.add(scope);
  }
  return [...scopes].sort();
}
