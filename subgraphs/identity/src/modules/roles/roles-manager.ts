import { z } from 'zod';
import { DomainError, ErrorCode, parseInput } from '@symbeon/kernel';
import { ROLES, type Role } from '../tokens/scopes.js';
import type { GrantableRole, RolesStorage } from './roles-storage.js';

const change = z.object({
  userId: z.uuid({ message: 'must be a user id' }),
  role: z.enum(['INSTRUCTOR', 'AUDITOR', 'ISSUER', 'ADMIN'], {
    message: 'must be INSTRUCTOR, AUDITOR, ISSUER or ADMIN (MEMBER is implicit)',
  }),
  reason: z
    .string()
    .trim()
    .max(500, 'must be at most 500 characters')
    .nullish()
    .transform((value) => value || null),
});

/** Whoever acts: only admins change roles. */
export interface Actor {
  userId: string;
  roles: readonly string[];
}

export function createRolesManager(storage: RolesStorage) {
  function requireAdmin(actor: Actor | undefined): Actor {
    if (!actor) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
    if (!actor.roles.includes('ADMIN'))
      throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators change roles');
    return actor;
  }

  return {
    async rolesOf(userId: string): Promise<Role[]> {
      const granted = (await storage.rolesOf([userId])).map((row) => row.role);
      return ROLES.filter((role) => role === 'MEMBER' || granted.includes(role));
    },

    async grant(actor: Actor | undefined, input: unknown) {
      const admin = requireAdmin(actor);
      const { userId, role, reason } = parseInput(change, input);
      const changed = await storage.grant(userId, role, admin.userId, reason);
      if (!changed) throw new DomainError(ErrorCode.CONFLICT, `The user is already ${role}`, 'role');
      return { userId, role };
    },

    async revoke(actor: Actor | undefined, input: unknown) {
      const admin = requireAdmin(actor);
      const { userId, role, reason } = parseInput(change, input);
      // An admin cannot lock the platform out by revoking their own admin role.
      if (userId === admin.userId && role === 'ADMIN') {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Administrators cannot revoke their own ADMIN role',
          'role',
        );
      }
      const changed = await storage.revoke(userId, role, admin.userId, reason);
      if (!changed) throw new DomainError(ErrorCode.NOT_FOUND, `The user is not ${role}`, 'role');
      return { userId, role };
    },

    async history(actor: Actor | undefined, userId: string, limit = 50) {
      requireAdmin(actor);
      return storage.changesOf(userId, Math.min(Math.max(limit, 1), 200));
    },

    /** Start-up bootstrap (embedded dev admin, or BOOTSTRAP_ADMIN_ADDRESS): recorded with no actor. */
    async bootstrap(userId: string, roles: readonly GrantableRole[], reason: string): Promise<void> {
      for (const role of roles) await storage.grant(userId, role, null, reason);
    },
  };
}

export type RolesManager = ReturnType<typeof createRolesManager>;
