import { z } from 'zod';
import { DomainError, ErrorCode, inputError } from '@symbeon/kernel';
import type { UserLoaders, UserRow, UsersStorage } from './users-storage.js';

/** 3–30 characters: lower-case letters, digits, `_` and `-`, starting with a letter or digit. */
export const HANDLE = /^[a-z0-9][a-z0-9_-]{2,29}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const newUserInput = z.object({
  handle: z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .pipe(
      z.string().regex(HANDLE, 'must be 3–30 characters: a-z, 0-9, _ or -, starting with a letter or digit'),
    ),
  displayName: z.string().trim().min(1, 'must not be empty').max(80, 'must be at most 80 characters'),
  avatarUrl: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .max(2048)
    .nullish()
    .transform((value) => value ?? null),
  bio: z
    .string()
    .trim()
    .max(1000, 'must be at most 1000 characters')
    .nullish()
    .transform((value) => value || null),
});

export type NewUserInput = z.input<typeof newUserInput>;

export function createUsersManager(storage: UsersStorage) {
  return {
    async createUser(
      input: NewUserInput,
      andThen?: Parameters<UsersStorage['insertUser']>[1],
    ): Promise<UserRow> {
      const parsed = newUserInput.safeParse(input);
      if (!parsed.success) throw inputError(parsed.error.issues);
      const created = await storage.insertUser(parsed.data, andThen);
      if (!created) {
        throw new DomainError(
          ErrorCode.CONFLICT,
          `The handle "${parsed.data.handle}" is taken`,
          'input.handle',
        );
      }
      return created;
    },

    /** The demo seed and future sign-in flows: the user with this handle, created when absent. */
    async ensureUser(input: NewUserInput): Promise<UserRow> {
      const handle = String(input.handle).trim().toLowerCase();
      return (await storage.findByHandle(handle)) ?? (await this.createUser(input));
    },

    isHandleTaken: (handle: string) => storage.isHandleTaken(handle),

    async findById(id: string): Promise<UserRow | undefined> {
      return UUID.test(id) ? (await storage.findByIds([id]))[0] : undefined;
    },

    async findUser(loaders: UserLoaders, by: { id?: string | null; handle?: string | null }) {
      if (by.id != null && by.handle != null) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give either id or handle, not both', 'id');
      }
      if (by.id != null) {
        // An id that is not a uuid cannot exist; answering null avoids a database type error.
        return UUID.test(by.id) ? loaders.userById.load(by.id) : null;
      }
      if (by.handle != null) return (await storage.findByHandle(by.handle.trim().toLowerCase())) ?? null;
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give an id or a handle', 'id');
    },
  };
}

export type UsersManager = ReturnType<typeof createUsersManager>;
export { UUID };
