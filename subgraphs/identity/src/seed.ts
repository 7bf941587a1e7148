import type { UsersManager } from './modules/users/users-manager.js';

/**
 * Demo people for the embedded profile. Idempotent: users are found by handle before being created.
 * (The identity issue links them to anvil's dev accounts.)
 */
export const demoUsers = [
  {
    handle: 'symbeon',
    displayName: 'Symbeon Platform',
    bio: 'The platform account: administrator and issuer.',
  },
  {
    handle: 'ada',
    displayName: 'Ada Lovelace',
    bio: 'Writes about analytical engines and teaches smart-contract fundamentals.',
    avatarUrl: 'https://avatars.symbeon.dev/ada.png',
  },
  { handle: 'grace', displayName: 'Grace Hopper', bio: 'Compilers, debugging and verifiable credentials.' },
  { handle: 'alan', displayName: 'Alan Turing', bio: 'Auditor for the Symbeon Foundations programme.' },
  { handle: 'linus', displayName: 'Linus Learner', bio: 'Learning everything about on-chain certification.' },
] as const;

export async function seedIdentityDemo(users: UsersManager) {
  const seeded = [];
  for (const user of demoUsers) seeded.push(await users.ensureUser(user));
  return seeded;
}
