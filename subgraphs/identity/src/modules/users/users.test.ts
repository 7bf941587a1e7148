import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createUsersManager } from './users-manager.js';
import { createUserLoaders, createUsersStorage, UserCreated } from './users-storage.js';

let database: TestDatabase<typeof schema>;
const statements: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'identity',
    migrationsFolder: identityMigrations,
    schema,
    onQuery: (query) => statements.push(query),
  });
});

afterAll(async () => {
  await database?.close();
});

describe('users', () => {
  it('normalises the handle, validates every field and announces the new user in the same transaction', async () => {
    const users = createUsersManager(createUsersStorage(database.db));
    const user = await users.createUser({ handle: '  Hedy  ', displayName: ' Hedy Lamarr ', bio: '' });
    expect(user).toMatchObject({ handle: 'hedy', displayName: 'Hedy Lamarr', bio: null, avatarUrl: null });
    const events = await database.db.select().from(schema.outbox);
    expect(events.filter((event) => event.type === UserCreated).map((event) => event.payload)).toContainEqual(
      {
        userId: user.id,
        handle: 'hedy',
      },
    );
  });

  it('refuses invalid input with every problem, and a taken handle with CONFLICT, creating nothing', async () => {
    const users = createUsersManager(createUsersStorage(database.db));
    const before = await database.db.select().from(schema.users);
    await expect(
      users.createUser({ handle: 'x', displayName: '', avatarUrl: 'javascript:alert(1)' }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.handle',
      message: expect.stringMatching(/input\.handle.*input\.displayName.*input\.avatarUrl/s),
    });
    await users.createUser({ handle: 'taken', displayName: 'First' });
    await expect(users.createUser({ handle: 'TAKEN', displayName: 'Second' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const after = await database.db.select().from(schema.users);
    expect(after.length).toBe(before.length + 1);
    const outbox = await database.db.select().from(schema.outbox);
    expect(outbox.filter((event) => (event.payload as { handle: string }).handle === 'taken')).toHaveLength(
      1,
    );
  });

  it('ensureUser is idempotent', async () => {
    const users = createUsersManager(createUsersStorage(database.db));
    const first = await users.ensureUser({ handle: 'idem', displayName: 'Idem' });
    const second = await users.ensureUser({ handle: 'idem', displayName: 'Other name' });
    expect(second.id).toBe(first.id);
    expect(second.displayName).toBe('Idem');
  });

  it('loads any number of users by id in one statement, and treats malformed ids as absent', async () => {
    const storage = createUsersStorage(database.db);
    const users = createUsersManager(storage);
    const created = [];
    for (let index = 0; index < 30; index += 1) {
      created.push(await users.createUser({ handle: `batch-${index}`, displayName: `Batch ${index}` }));
    }
    const loaders = createUserLoaders(storage);
    statements.length = 0;
    const found = await Promise.all(created.map((user) => users.findUser(loaders, { id: user.id })));
    expect(found.map((user) => user?.handle)).toEqual(created.map((user) => user.handle));
    expect(statements.filter((sql) => sql.includes('"identity"."users"'))).toHaveLength(1);
    expect(await users.findUser(loaders, { id: 'nope' })).toBeNull();
    await expect(users.findUser(loaders, {})).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(users.findUser(loaders, { id: created[0]!.id, handle: 'batch-0' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});
