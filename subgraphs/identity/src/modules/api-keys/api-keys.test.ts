import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createUsersManager } from '../users/users-manager.js';
import { createUsersStorage } from '../users/users-storage.js';
import { API_KEY_INVALID, createApiKeysManager, type KeyOwner } from './api-keys-manager.js';
import { createApiKeysStorage } from './api-keys-storage.js';

let database: TestDatabase<typeof schema>;
let keys: ReturnType<typeof createApiKeysManager>;
let owner: KeyOwner;
const owners = new Map<string, KeyOwner>();

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
  const user = await createUsersManager(createUsersStorage(database.db)).createUser({
    handle: 'key-owner',
    displayName: 'Owner',
  });
  owner = { userId: user.id, roles: ['MEMBER'], scopes: ['learning:enroll', 'profile:read'] };
  owners.set(user.id, owner);
  keys = createApiKeysManager(createApiKeysStorage(database.db), async (id) => owners.get(id));
});

afterAll(async () => {
  await database?.close();
});

describe('API keys', () => {
  it('shows the key once, stores only its hash, and verifies it to its owner, tier and scopes', async () => {
    const { key, row } = await keys.create(owner, { name: 'CI', tier: 'FREE', scopes: ['profile:read'] });
    expect(key).toMatch(/^sk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(`sk_${row.prefix}_`)).toBe(true);
    const [stored] = await database.db.select().from(schema.apiKeys);
    // The secret (base64url, so it may itself contain "_") follows the public prefix.
    expect(JSON.stringify(stored)).not.toContain(key.slice(`sk_${row.prefix}_`.length));
    expect(await keys.verify(key)).toEqual({
      keyId: row.id,
      userId: owner.userId,
      tier: 'FREE',
      scopes: ['profile:read'],
    });
  });

  it('refuses scopes the owner lacks, paid tiers for non-admins, and anonymous callers', async () => {
    await expect(
      keys.create(owner, { name: 'x', tier: 'FREE', scopes: ['users:admin'] }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.scopes',
    });
    await expect(
      keys.create(owner, { name: 'x', tier: 'PRO', scopes: ['profile:read'] }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
      field: 'input.tier',
    });
    await expect(
      keys.create(undefined, { name: 'x', tier: 'FREE', scopes: ['profile:read'] }),
    ).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    const admin = { userId: owner.userId, roles: ['MEMBER', 'ADMIN'], scopes: ['profile:read'] };
    expect(
      (await keys.create(admin, { name: 'partner', tier: 'ENTERPRISE', scopes: ['profile:read'] })).row.tier,
    ).toBe('ENTERPRISE');
  });

  it('refuses forged, revoked and expired keys with one code', async () => {
    const { key, row } = await keys.create(owner, {
      name: 'soon revoked',
      tier: 'FREE',
      scopes: ['profile:read'],
    });
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const bad of [tampered, 'sk_nope', `sk_${row.prefix}_${'x'.repeat(43)}`, '']) {
      await expect(keys.verify(bad)).rejects.toMatchObject({ code: API_KEY_INVALID });
    }
    await keys.revoke(owner, row.id);
    await expect(keys.verify(key)).rejects.toMatchObject({ code: API_KEY_INVALID });
    await expect(keys.revoke(owner, row.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    let clock = new Date();
    const timed = createApiKeysManager(
      createApiKeysStorage(database.db),
      async (id) => owners.get(id),
      () => clock,
    );
    const expiring = await timed.create(owner, {
      name: 'expiring',
      tier: 'FREE',
      scopes: ['profile:read'],
      expiresAt: new Date(clock.getTime() + 60_000),
    });
    expect((await timed.verify(expiring.key)).keyId).toBe(expiring.row.id);
    clock = new Date(clock.getTime() + 120_000);
    await expect(timed.verify(expiring.key)).rejects.toMatchObject({ code: API_KEY_INVALID });
  });

  it('narrows a key when its owner loses a scope', async () => {
    const { key } = await keys.create(owner, {
      name: 'wide',
      tier: 'FREE',
      scopes: ['learning:enroll', 'profile:read'],
    });
    owners.set(owner.userId, { ...owner, scopes: ['profile:read'] });
    expect((await keys.verify(key)).scopes).toEqual(['profile:read']);
    owners.set(owner.userId, owner);
  });
});
