import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createUsersManager } from '../users/users-manager.js';
import { createUsersStorage } from '../users/users-storage.js';
import { createRolesManager } from './roles-manager.js';
import { createRolesStorage } from './roles-storage.js';

let database: TestDatabase<typeof schema>;
let roles: ReturnType<typeof createRolesManager>;
let admin: { userId: string; roles: string[] };
let member: { userId: string; roles: string[] };

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
  const users = createUsersManager(createUsersStorage(database.db));
  roles = createRolesManager(createRolesStorage(database.db));
  const a = await users.createUser({ handle: 'root-admin', displayName: 'Admin' });
  const m = await users.createUser({ handle: 'plain-member', displayName: 'Member' });
  await roles.bootstrap(a.id, ['ADMIN'], 'test bootstrap');
  admin = { userId: a.id, roles: await roles.rolesOf(a.id) };
  member = { userId: m.id, roles: await roles.rolesOf(m.id) };
});

afterAll(async () => {
  await database?.close();
});

describe('roles', () => {
  it('every user is a MEMBER; granted roles add to it', async () => {
    expect(member.roles).toEqual(['MEMBER']);
    expect(admin.roles).toEqual(['MEMBER', 'ADMIN']);
  });

  it('admins grant and revoke, and every change is recorded with who, when and why', async () => {
    await roles.grant(admin, { userId: member.userId, role: 'AUDITOR', reason: 'assigned to Foundations' });
    expect(await roles.rolesOf(member.userId)).toEqual(['MEMBER', 'AUDITOR']);
    await roles.revoke(admin, { userId: member.userId, role: 'AUDITOR', reason: 'programme closed' });
    expect(await roles.rolesOf(member.userId)).toEqual(['MEMBER']);
    const history = await roles.history(admin, member.userId);
    expect(history.map((entry) => [entry.action, entry.role, entry.actorId, entry.reason])).toEqual([
      ['REVOKE', 'AUDITOR', admin.userId, 'programme closed'],
      ['GRANT', 'AUDITOR', admin.userId, 'assigned to Foundations'],
    ]);
    expect(history[0]!.at.getTime()).toBeGreaterThanOrEqual(history[1]!.at.getTime());
  });

  it('refuses non-admins, anonymous callers and bad input, changing nothing', async () => {
    await expect(roles.grant(member, { userId: member.userId, role: 'ADMIN' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(roles.grant(undefined, { userId: member.userId, role: 'ADMIN' })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    await expect(roles.grant(admin, { userId: member.userId, role: 'MEMBER' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.role',
    });
    await expect(roles.grant(admin, { userId: 'nope', role: 'ISSUER' })).rejects.toMatchObject({
      field: 'input.userId',
    });
    expect(await roles.rolesOf(member.userId)).toEqual(['MEMBER']);
    expect(await roles.history(admin, member.userId)).toHaveLength(2);
  });

  it('refuses a duplicate grant, a missing revoke and an admin revoking their own ADMIN role', async () => {
    await roles.grant(admin, { userId: member.userId, role: 'ISSUER' });
    await expect(roles.grant(admin, { userId: member.userId, role: 'ISSUER' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(roles.revoke(admin, { userId: member.userId, role: 'AUDITOR' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(roles.revoke(admin, { userId: admin.userId, role: 'ADMIN' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(await roles.rolesOf(admin.userId)).toContain('ADMIN');
  });
});
