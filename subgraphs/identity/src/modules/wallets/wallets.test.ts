import { Wallet, type Signer } from 'ethers';
import { SiweMessage } from 'siwe';
import { createMemoryCache, type Cache } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createUsersManager } from '../users/users-manager.js';
import { createUsersStorage } from '../users/users-storage.js';
import { createSiweVerifier, SiweError, type SiweConfig } from './siwe-verifier.js';
import { createWalletsManager, WALLET_LINKED_ELSEWHERE } from './wallets-manager.js';
import { createWalletsStorage } from './wallets-storage.js';

let database: TestDatabase<typeof schema>;
let cache: Cache;
const config: SiweConfig = {
  domains: ['localhost:8000'],
  uris: ['http://localhost:8000'],
  chainIds: [31337],
  maxAgeMs: 10 * 60_000,
  skewMs: 60_000,
};

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
  cache = createMemoryCache();
});

afterAll(async () => {
  await cache?.close();
  await database?.close();
});

function manager() {
  const users = createUsersManager(createUsersStorage(database.db));
  return createWalletsManager(createSiweVerifier(cache, config), createWalletsStorage(database.db), users);
}

async function signed(
  signer: Signer & { address: string },
  overrides: Partial<SiweMessage> = {},
  nonce?: string,
) {
  const message = new SiweMessage({
    domain: 'localhost:8000',
    address: signer.address,
    statement: 'Sign in to Symbeon',
    uri: 'http://localhost:8000',
    version: '1',
    chainId: 31337,
    nonce: nonce ?? (await manager().createNonce()),
    issuedAt: new Date().toISOString(),
    ...overrides,
  }).prepareMessage();
  return { message, signature: await signer.signMessage(message) };
}

describe('Sign-In with Ethereum', () => {
  it('creates the user and links the wallet on first sign-in, and finds them after', async () => {
    const signer = Wallet.createRandom();
    const first = await signed(signer);
    const created = await manager().signIn(first.message, first.signature);
    expect(created.created).toBe(true);
    expect(created.wallet.address).toBe(signer.address.toLowerCase());
    expect(created.user.handle).toBe(`0x${signer.address.slice(2, 10).toLowerCase()}`);
    const again = await signed(signer);
    const found = await manager().signIn(again.message, again.signature);
    expect(found).toMatchObject({ created: false, user: { id: created.user.id } });
    const outbox = await database.db.select().from(schema.outbox);
    expect(
      outbox
        .filter((row) => (row.payload as { userId?: string }).userId === created.user.id)
        .map((row) => row.type)
        .sort(),
    ).toEqual(['identity.UserCreated', 'identity.WalletLinked']);
  });

  const refusals: Array<
    [
      string,
      (signer: Signer & { address: string }) => Promise<{ message: string; signature: string }>,
      string,
    ]
  > = [
    ['wrong domain', (s) => signed(s, { domain: 'evil.example' }), SiweError.WRONG_DOMAIN],
    ['wrong URI', (s) => signed(s, { uri: 'https://evil.example/login' }), SiweError.WRONG_URI],
    ['wrong chain id', (s) => signed(s, { chainId: 1 }), SiweError.WRONG_CHAIN],
    ['unknown nonce', (s) => signed(s, {}, 'abcdef0123456789'), SiweError.UNKNOWN_NONCE],
    [
      'expired message',
      (s) => signed(s, { expirationTime: new Date(Date.now() - 5 * 60_000).toISOString() }),
      SiweError.EXPIRED,
    ],
    [
      'not yet valid',
      (s) => signed(s, { notBefore: new Date(Date.now() + 10 * 60_000).toISOString() }),
      SiweError.NOT_YET_VALID,
    ],
    [
      'issuedAt in the future',
      (s) => signed(s, { issuedAt: new Date(Date.now() + 10 * 60_000).toISOString() }),
      SiweError.ISSUED_IN_FUTURE,
    ],
    [
      'issuedAt too old',
      (s) => signed(s, { issuedAt: new Date(Date.now() - 60 * 60_000).toISOString() }),
      SiweError.TOO_OLD,
    ],
    [
      'signature from another key',
      async (s) => {
        const { message } = await signed(s);
        return { message, signature: await Wallet.createRandom().signMessage(message) };
      },
      SiweError.INVALID_SIGNATURE,
    ],
    [
      'a message that is not EIP-4361',
      async () => ({ message: 'hello', signature: '0x' }),
      SiweError.INVALID_MESSAGE,
    ],
  ];

  it.each(refusals)('refuses %s with its own code and creates nothing', async (_, make, code) => {
    const signer = Wallet.createRandom();
    const { message, signature } = await make(signer);
    const before = await database.db.select().from(schema.users);
    await expect(manager().signIn(message, signature)).rejects.toMatchObject({ code });
    expect(await database.db.select().from(schema.users)).toHaveLength(before.length);
  });

  it('consumes the nonce once: a replay is NONCE_REUSED, and a failed attempt does not burn it', async () => {
    const signer = Wallet.createRandom();
    const nonce = await manager().createNonce();
    const forged = await signed(signer, {}, nonce);
    await expect(
      manager().signIn(forged.message, await Wallet.createRandom().signMessage(forged.message)),
    ).rejects.toMatchObject({
      code: SiweError.INVALID_SIGNATURE,
    });
    const good = await signed(signer, {}, nonce);
    await manager().signIn(good.message, good.signature);
    await expect(manager().signIn(good.message, good.signature)).rejects.toMatchObject({
      code: SiweError.NONCE_REUSED,
    });
  });

  it('lets exactly one of two concurrent sign-ins with the same nonce through', async () => {
    const signer = Wallet.createRandom();
    const { message, signature } = await signed(signer);
    const results = await Promise.allSettled([
      manager().signIn(message, signature),
      manager().signIn(message, signature),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((result) => result.status === 'rejected')).toMatchObject({
      reason: { code: SiweError.NONCE_REUSED },
    });
  });

  it('links more wallets to a signed-in user, never one that belongs to someone else', async () => {
    const alice = Wallet.createRandom();
    const bob = Wallet.createRandom();
    const first = await signed(alice);
    const { user } = await manager().signIn(first.message, first.signature);
    const second = Wallet.createRandom();
    const linkMessage = await signed(second);
    const linked = await manager().link(user.id, linkMessage.message, linkMessage.signature);
    expect(linked).toMatchObject({ userId: user.id, address: second.address.toLowerCase() });
    const bobIn = await signed(bob);
    await manager().signIn(bobIn.message, bobIn.signature);
    const steal = await signed(bob);
    await expect(manager().link(user.id, steal.message, steal.signature)).rejects.toMatchObject({
      code: WALLET_LINKED_ELSEWHERE,
    });
  });
});
