import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  cidToDigest,
  deployContracts,
  symbeonCertificateAbi,
  writeDeployment,
  type Deployment,
} from '@symbeon/contracts';
import {
  createLogger,
  createMemoryEventTransport,
  startOutboxRelay,
  type ContentStore,
  type EventTransport,
  type Principal,
  type Subscription,
} from '@symbeon/kernel';
import { anvilDevAccounts, startAnvil, type AnvilNode } from '@symbeon/kernel/anvil';
import { createEmbeddedContentStore } from '@symbeon/kernel/content';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { Contract, JsonRpcProvider, Wallet } from 'ethers';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import { systemActor } from '../requests/requests-manager.js';
import { createChainReader, type ChainReader } from '../verification/chain-reader.js';
import { consumeIssuanceEvents } from '../issuance/issuance-consumer.js';
import { createIssuanceManager } from '../issuance/issuance-manager.js';
import { ChainCommandRequested, type ChainCommandRequestedPayload } from '../issuance/issuance-storage.js';
import { consumeLifecycleEvents } from './lifecycle-consumer.js';
import { CertificateExpired, type LifecycleCommand } from './lifecycle-manager.js';

// Revocation, renewal, expiry and the verification link over a real database, a real anvil with the
// contracts, a real embedded content store and the in-process bus (the issuance tests' fixture). The chain
// subgraph is played by the test: it reads certification's ChainCommandRequested, sends the transaction and
// publishes CertificateIssued / Revoked / Renewed as chain's indexer does (that side: chain's commands.test.ts).
let node: AnvilNode;
let deployment: Deployment;
let provider: JsonRpcProvider;
let database: TestDatabase<typeof schema>;
let contents: ContentStore;
let contentDir: string;
let chain: ChainReader;
let transport: EventTransport;
let modules: ReturnType<typeof createCertificationModules>;
let consumers: Subscription;
let relay: ReturnType<typeof startOutboxRelay>;
let free: ProgrammeRow;
let certificateContract: Contract;
let lifecycleEvents: Subscription;

const principal = (userId: string, roles: string[]): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const admin = principal(randomUUID(), ['ADMIN']);
const auditor = principal(randomUUID(), ['AUDITOR']);
const auditorId = (auditor as { userId: string }).userId;

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function publish(type: string, payload: unknown, id = randomUUID()) {
  await transport.publish({ id, type, occurredAt: new Date().toISOString(), payload });
  return id;
}

async function linkWallet(userId: string, address: string) {
  await publish('identity.WalletLinked', {
    userId,
    address: address.toLowerCase(),
    chainId: 31337,
    linkedAt: new Date().toISOString(),
  });
}

/** A request by a new requester, reviewed and approved (the audit's SYSTEM moves made by hand). */
async function approvedRequest(programme: ProgrammeRow, wallet?: string) {
  const requester = principal(randomUUID(), []);
  const userId = (requester as { userId: string }).userId;
  if (wallet) {
    await linkWallet(userId, wallet);
    await until(() => modules.storage.certificates.firstWalletOf(userId), 'the wallet to be known');
  }
  const request = await modules.requests.createRequest(requester, programme.id);
  await modules.requests.submit(requester, request.id);
  await modules.requests.transition(request.id, 'AUDITING', { actor: systemActor('test-audit') });
  await modules.requests.transition(request.id, 'AWAITING_REVIEW', { actor: systemActor('test-audit') });
  await modules.requests.review(auditor, request.id, 'APPROVE', 'fine');
  return { requestId: request.id, userId };
}

const statusOf = async (requestId: string) =>
  (await modules.storage.requests.findByIds([requestId]))[0]!.status;
const certificateOf = async (requestId: string) =>
  (await modules.storage.certificates.findByRequestIds([requestId]))[0];

async function commandFor(requestId: string): Promise<ChainCommandRequestedPayload> {
  const rows = await database.db
    .select()
    .from(schema.outbox)
    .where(eq(schema.outbox.type, ChainCommandRequested));
  const payloads = rows
    .map((row) => row.payload as ChainCommandRequestedPayload)
    .filter((payload) => payload.requestId === requestId);
  expect(payloads).toHaveLength(1);
  return payloads[0]!;
}

async function readJson(cid: string): Promise<Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await contents.get(cid))!) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

/** What the chain subgraph does with a command: send it, and its indexer publishes CertificateIssued. */
async function playChain(command: ChainCommandRequestedPayload) {
  const expiresAt = Math.floor(Date.parse(command.expiresAt) / 1000);
  const sent = await certificateContract
    .getFunction('issue')
    .send(command.holder, cidToDigest(command.contentCid), expiresAt);
  const receipt = (await sent.wait())!;
  const tokenId = BigInt(cidToDigest(command.contentCid)).toString();
  const issued = {
    chainId: deployment.chainId,
    contract: deployment.contracts.SymbeonCertificate.address,
    tokenId,
    holder: command.holder,
    contentCid: command.contentCid,
    expiresAt: command.expiresAt,
    issuer: anvilDevAccounts[0].address,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    txHash: receipt.hash,
    logIndex: 0,
  };
  return { tokenId, issued };
}

beforeAll(async () => {
  node = await startAnvil({ port: 0 });
  deployment = await deployContracts({
    rpcUrl: node.rpcUrl,
    deployerKey: anvilDevAccounts[0].privateKey,
    issuers: [anvilDevAccounts[0].address],
    paymentReceiver: false,
  });
  contentDir = mkdtempSync(path.join(tmpdir(), 'symbeon-lifecycle-'));
  const deploymentPath = path.join(contentDir, 'deployment.json');
  writeDeployment(deploymentPath, deployment);
  provider = new JsonRpcProvider(node.rpcUrl, deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
  certificateContract = new Contract(
    deployment.contracts.SymbeonCertificate.address,
    symbeonCertificateAbi,
    new Wallet(anvilDevAccounts[0].privateKey, provider),
  );
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  contents = await createEmbeddedContentStore({ directory: path.join(contentDir, 'ipfs') });
  chain = createChainReader({ rpcUrl: node.rpcUrl, deploymentPath });
  const logger = createLogger('test', { level: 'silent' });
  modules = createCertificationModules(
    database.db,
    logger,
    { contents, chain, verifyConfirmations: 1 },
    { publicUrl: 'https://symbeon.example' },
    { issuer: { name: 'Symbeon', url: 'https://symbeon.example' }, renewalWindowDays: 30 },
  );
  transport = createMemoryEventTransport();
  const issuance = createIssuanceManager({
    contents,
    chainId: () => chain.deployment().chainId,
    issuer: { name: 'Symbeon', url: 'https://symbeon.example' },
    logger,
  });
  consumers = await consumeIssuanceEvents(database.db, transport, issuance);
  lifecycleEvents = await consumeLifecycleEvents(database.db, transport, modules.lifecycle);
  relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    logger,
    pollMs: 20,
  });
  await createKnownUsersStorage(database.db).remember(database.db, auditorId, 'auditor');
  const create = async (slug: string, extra: Record<string, unknown>) => {
    const row = await modules.programmes.createProgramme(admin, {
      slug,
      name: slug === 'free' ? 'Symbeon Foundations' : 'Professional',
      description: 'Test programme',
      validityDays: 365,
      auditorIds: [auditorId],
      ...extra,
    });
    return modules.programmes.publishProgramme(admin, row.id);
  };
  free = await create('free', {});
}, 60_000);

afterAll(async () => {
  await consumers?.close();
  await lifecycleEvents?.close();
  await relay?.close();
  await transport?.close();
  chain?.close();
  provider?.destroy();
  await contents?.close();
  await database?.close();
  await node?.stop();
  rmSync(contentDir, { recursive: true, force: true });
});

/** Lifecycle commands recorded for a certificate (the outbox keeps them). */
async function lifecycleCommands(certificateId: string): Promise<LifecycleCommand[]> {
  const rows = await database.db
    .select()
    .from(schema.outbox)
    .where(eq(schema.outbox.type, ChainCommandRequested));
  return rows
    .map((row) => row.payload as LifecycleCommand)
    .filter((payload) => payload.kind !== ('issue' as string) && payload.certificateId === certificateId);
}

/** A VALID certificate of a new requester on the free programme (issued on anvil, reported on the bus). */
async function validCertificate() {
  // A wallet belongs to one user: each requester gets a fresh one.
  const { requestId, userId } = await approvedRequest(free, Wallet.createRandom().address);
  await until(async () => (await certificateOf(requestId))?.tokenId, 'the certificate documents');
  const played = await playChain(await commandFor(requestId));
  await publish('CertificateIssued', played.issued);
  await until(async () => (await statusOf(requestId)) === 'ISSUED', 'ISSUED');
  const certificate = (await certificateOf(requestId))!;
  return { requestId, userId, certificate, holder: principal(userId, []) };
}

const revokedOnChain = async (tokenId: string) =>
  ((await certificateContract.getFunction('certificate').staticCall(tokenId)) as { revoked: boolean })
    .revoked;

describe('revocation', () => {
  it('refuses non-issuers, a missing reason and unknown certificates', async () => {
    const { certificate, holder } = await validCertificate();
    await expect(modules.lifecycle.revoke(holder, certificate.id, 'mine')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(modules.lifecycle.revoke(auditor, certificate.id, 'no')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const issuer = principal(randomUUID(), ['ISSUER']);
    await expect(modules.lifecycle.revoke(issuer, certificate.id, '  ')).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(modules.lifecycle.revoke(issuer, randomUUID(), 'fraud')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await lifecycleCommands(certificate.id)).toEqual([]);
  });

  it('asks the chain through the bus; CertificateRevoked makes certificate and request REVOKED', async () => {
    const { requestId, certificate } = await validCertificate();
    const issuer = principal(randomUUID(), ['ISSUER']);
    await modules.lifecycle.revoke(issuer, certificate.id, 'Evidence forged');
    const [command] = await lifecycleCommands(certificate.id);
    expect(command).toEqual({
      commandId: `${certificate.id}:revoke`,
      kind: 'revoke',
      tokenId: certificate.tokenId,
      reason: 'Evidence forged',
      certificateId: certificate.id,
    });
    // The chain's side: the command arrived on the bus, the transaction is sent, the indexer reports it.
    const received: unknown[] = [];
    const listener = await transport.subscribe(
      (event) => {
        received.push(event.payload);
        return Promise.resolve();
      },
      { group: `test-chain-${randomUUID()}`, types: [ChainCommandRequested] },
    );
    await until(
      () =>
        Promise.resolve(
          received.some((payload) => (payload as LifecycleCommand).commandId === `${certificate.id}:revoke`),
        ),
      'the command on the bus',
    );
    await listener.close();
    const receipt = (await (
      await certificateContract.getFunction('revoke').send(command!.tokenId, 'Evidence forged')
    ).wait())!;
    expect(await revokedOnChain(certificate.tokenId!)).toBe(true);
    await publish('CertificateRevoked', {
      tokenId: certificate.tokenId,
      reason: 'Evidence forged',
      txHash: receipt.hash,
    });
    await until(async () => (await statusOf(requestId)) === 'REVOKED', 'REVOKED');
    expect(await certificateOf(requestId)).toMatchObject({
      status: 'REVOKED',
      revokedReason: 'Evidence forged',
    });
    const admin2 = principal(randomUUID(), ['ADMIN']);
    await expect(modules.lifecycle.revoke(admin2, certificate.id, 'again')).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    const verification = await modules.verification.verify({ id: certificate.id });
    expect(verification.verdict).toBe('REVOKED');
  });
});

describe('renewal', () => {
  it('opens in the window, renews on chain, and CertificateRenewed makes it RENEWED with the new term', async () => {
    const { requestId, certificate, holder } = await validCertificate();
    await expect(modules.lifecycle.renew(holder, certificate.id)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(modules.lifecycle.renew(principal(randomUUID(), []), certificate.id)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    // The sweep, 10 days before expiry, opens the window.
    await modules.lifecycle.sweep(new Date(certificate.expiresAt!.getTime() - 10 * 86_400_000));
    expect(await statusOf(requestId)).toBe('RENEWAL_DUE');

    await modules.lifecycle.renew(holder, certificate.id);
    const [command] = await lifecycleCommands(certificate.id);
    const newExpiry = new Date(certificate.expiresAt!.getTime() + 365 * 86_400_000);
    expect(command).toMatchObject({
      kind: 'renew',
      tokenId: certificate.tokenId,
      expiresAt: newExpiry.toISOString(),
      certificateId: certificate.id,
    });
    const renew = command as Extract<LifecycleCommand, { kind: 'renew' }>;
    const metadata = await readJson(renew.contentCid);
    expect(metadata.credential).toEqual(expect.stringMatching(/^ipfs:\/\//));
    const receipt = (await (
      await certificateContract
        .getFunction('renew')
        .send(renew.tokenId, Math.floor(newExpiry.getTime() / 1000), cidToDigest(renew.contentCid))
    ).wait())!;
    const onChain = (await certificateContract
      .getFunction('certificate')
      .staticCall(certificate.tokenId)) as {
      expiresAt: bigint;
    };
    expect(Number(onChain.expiresAt)).toBe(newExpiry.getTime() / 1000);
    await publish('CertificateRenewed', {
      tokenId: certificate.tokenId,
      contentCid: renew.contentCid,
      expiresAt: newExpiry.toISOString(),
      txHash: receipt.hash,
    });
    await until(async () => (await statusOf(requestId)) === 'RENEWED', 'RENEWED');
    const renewed = (await certificateOf(requestId))!;
    expect(renewed).toMatchObject({ status: 'VALID', metadataCid: renew.contentCid });
    expect(renewed.expiresAt!.getTime()).toBe(newExpiry.getTime());
    expect(renewed.credentialCid).toBe(String(metadata.credential).slice('ipfs://'.length));
    const verification = await modules.verification.verify({ id: certificate.id });
    expect(verification.verdict).toBe('VALID');
  });
});

describe('verification link', () => {
  it('is <public url>/verify/<id>, with a QR code of it as SVG', async () => {
    const id = randomUUID();
    expect(modules.lifecycle.verificationUrl(id)).toBe(`https://symbeon.example/verify/${id}`);
    const svg = await modules.lifecycle.verificationQrCodeSvg(id);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('<path');
  });
});

describe('expiry sweep', () => {
  it('marks expired certificates EXPIRED once, announces them, and moves their requests to EXPIRED', async () => {
    const { requestId, certificate } = await validCertificate();
    const later = new Date(certificate.expiresAt!.getTime() + 1000);
    const first = await modules.lifecycle.sweep(later);
    expect(first.expired).toBeGreaterThanOrEqual(1);
    expect(await statusOf(requestId)).toBe('EXPIRED');
    expect(await certificateOf(requestId)).toMatchObject({ status: 'EXPIRED' });
    expect(await modules.lifecycle.sweep(later)).toEqual({ expired: 0, renewalDue: 0 });
    const announced = (
      await database.db.select().from(schema.outbox).where(eq(schema.outbox.type, CertificateExpired))
    ).filter((row) => (row.payload as { certificateId: string }).certificateId === certificate.id);
    expect(announced).toHaveLength(1);
    const trail = await modules.storage.requests.findTransitions([requestId]);
    expect(trail.at(-1)).toMatchObject({ toStatus: 'EXPIRED', actorKind: 'SYSTEM' });
    // The chain agrees once its time passes the expiry.
    await provider.send('evm_setNextBlockTimestamp', [Math.floor(later.getTime() / 1000) + 60]);
    await provider.send('evm_mine', []);
    const verification = await modules.verification.verify({ id: certificate.id });
    expect(verification.verdict).toBe('EXPIRED');
  });
});
