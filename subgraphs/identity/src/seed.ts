import type { RolesManager } from './modules/roles/roles-manager.js';
import type { WalletsManager } from './modules/wallets/wallets-manager.js';

/**
 * Demo people for the embedded profile, each linked to one of anvil's well-known dev accounts (derived from
 * anvil's public test mnemonic) so a developer can sign in with Ethereum using the published dev keys.
 * Idempotent: users are found by wallet, roles granted once.
 */
export const demoUsers = [
  {
    // anvil account 0: the platform admin and certificate issuer.
    address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    handle: 'symbeon',
    displayName: 'Symbeon Platform',
    bio: 'The platform account: administrator and issuer.',
    roles: ['ADMIN', 'ISSUER'],
  },
  {
    address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    handle: 'ada',
    displayName: 'Ada Lovelace',
    bio: 'Writes about analytical engines and teaches smart-contract fundamentals.',
    roles: ['INSTRUCTOR'],
  },
  {
    // anvil account 2: the auditor of the Foundations programme.
    address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    handle: 'alan',
    displayName: 'Alan Turing',
    bio: 'Auditor for the Symbeon Foundations programme.',
    roles: ['AUDITOR'],
  },
  {
    address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    handle: 'grace',
    displayName: 'Grace Hopper',
    bio: 'Compilers, debugging and verifiable credentials.',
    roles: ['INSTRUCTOR'],
  },
  {
    address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
    handle: 'linus',
    displayName: 'Linus Learner',
    bio: 'Learning everything about on-chain certification.',
    roles: [],
  },
] as const;

export async function seedIdentityDemo(wallets: WalletsManager, roles: RolesManager) {
  const seeded = [];
  for (const { address, roles: granted, ...profile } of demoUsers) {
    const user = await wallets.ensureUserFor(address, profile);
    await roles.bootstrap(user.id, granted, 'embedded demo data');
    seeded.push(user);
  }
  return seeded;
}
