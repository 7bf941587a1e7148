import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { consumeIssuanceEvents } from './issuance-consumer.js';
import { createIssuanceManager } from './issuance-manager.js';
import { ChainCommandRequested, type ChainCommandRequestedPayload } from './issuance-storage.js';

// Issuance and verification over a real database, a real anvil with the contracts, a real embedded content
// store and the in-process bus. The chain subgraph is played by the test (subgraphs never import each
// other): it reads certification's ChainCommandRequested, sends the issue transaction itself and publishes
// CertificateIssued / CertificateRevoked in the shape chain's indexer publishes them (that side is tested in
// subgraphs/chain/src/modules/commands/commands.test.ts).
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
let priced: ProgrammeRow;
let certificateContract: Contract;
/** The request issued in 'issuance', verified in 'verification'. */
let issuedRequest: string;
let tokenId: string;

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
const holderAccount = anvilDevAccounts[4];

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
  contentDir = mkdtempSync(path.join(tmpdir(), 'symbeon-issuance-'));
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
  modules = createCertificationModules(database.db, logger, { contents, chain, verifyConfirmations: 1 });
  transport = createMemoryEventTransport();
  const issuance = createIssuanceManager({
    contents,
    chainId: () => chain.deployment().chainId,
    issuer: { name: 'Symbeon', url: 'https://symbeon.example' },
    logger,
  });
  consumers = await consumeIssuanceEvents(database.db, transport, issuance);
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
  priced = await create('priced', { price: { amountMinor: 4900, currency: 'EUR' } });
}, 60_000);

afterAll(async () => {
  await consumers?.close();
  await relay?.close();
  await transport?.close();
  chain?.close();
  provider?.destroy();
  await contents?.close();
  await database?.close();
  await node?.stop();
  rmSync(contentDir, { recursive: true, force: true });
});

describe('issuance', () => {
  it('sends a priced programme to AWAITING_PAYMENT, and nothing to the chain', async () => {
    const { requestId } = await approvedRequest(priced, anvilDevAccounts[3].address);
    await until(async () => (await statusOf(requestId)) === 'AWAITING_PAYMENT', 'the payment gate');
    expect(await certificateOf(requestId)).toBeUndefined();
  });

  it('builds and stores the metadata, the credential and the badge, then asks the chain through the bus', async () => {
    const { requestId } = await approvedRequest(free, holderAccount.address);
    issuedRequest = requestId;
    const certificate = await until(async () => {
      const row = await certificateOf(requestId);
      return row?.tokenId ? row : undefined;
    }, 'the certificate documents');
    expect(await statusOf(requestId)).toBe('ISSUING');
    expect(certificate).toMatchObject({
      status: 'ISSUING',
      holderAddress: holderAccount.address,
      attempt: 1,
    });
    expect(certificate.tokenId).toBe(BigInt(cidToDigest(certificate.metadataCid!)).toString());
    expect(certificate.expiresAt!.getTime() - certificate.issuedAt!.getTime()).toBe(365 * 86_400_000);

    const metadata = await readJson(certificate.metadataCid!);
    expect(metadata).toMatchObject({
      name: expect.stringContaining('Symbeon Foundations') as unknown,
      description: 'Test programme',
      image: `ipfs://${certificate.imageCid}`,
      credential: `ipfs://${certificate.credentialCid}`,
    });
    const traits = Object.fromEntries(
      (metadata.attributes as Array<{ trait_type: string; value: unknown }>).map((item) => [
        item.trait_type,
        item.value,
      ]),
    );
    expect(traits).toMatchObject({
      programme: 'Symbeon Foundations',
      holder: holderAccount.address,
      issuedAt: certificate.issuedAt!.getTime() / 1000,
      expiresAt: certificate.expiresAt!.getTime() / 1000,
      'request id': requestId,
      'audit report': 'none',
    });
    const credential = await readJson(certificate.credentialCid!);
    expect(credential).toEqual({
      '@context': ['https://www.w3.org/ns/credentials/v2'],
      id: `urn:uuid:${certificate.id}`,
      type: ['VerifiableCredential', 'SymbeonCertificate'],
      name: 'Symbeon Foundations certificate',
      issuer: { id: 'https://symbeon.example', name: 'Symbeon' },
      validFrom: certificate.issuedAt!.toISOString().replace('.000Z', 'Z'),
      validUntil: certificate.expiresAt!.toISOString().replace('.000Z', 'Z'),
      credentialSubject: {
        id: `did:pkh:eip155:31337:${holderAccount.address}`,
        certification: {
          programme: { id: free.id, slug: 'free', name: 'Symbeon Foundations' },
          requestId,
        },
      },
    });
    expect(await contents.stat(certificate.imageCid!)).toMatchObject({ mediaType: 'image/svg+xml' });

    const command = await commandFor(requestId);
    expect(command).toEqual({
      commandId: `${requestId}:1`,
      kind: 'issue',
      holder: holderAccount.address,
      contentCid: certificate.metadataCid,
      expiresAt: certificate.expiresAt!.toISOString(),
      requestId,
      certificateId: certificate.id,
    });
  });

  it('makes the request ISSUED and the certificate VALID when the chain reports CertificateIssued (once)', async () => {
    const command = await commandFor(issuedRequest);
    const played = await playChain(command);
    tokenId = played.tokenId;
    const eventId = await publish('CertificateIssued', played.issued);
    await publish('CertificateIssued', played.issued, eventId); // redelivered: processed once
    await publish('CertificateIssued', played.issued); // reported again under another id: nothing more
    await until(async () => (await statusOf(issuedRequest)) === 'ISSUED', 'ISSUED');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const trail = await modules.storage.requests.findTransitions([issuedRequest]);
    expect(trail.filter((row) => row.toStatus === 'ISSUED')).toHaveLength(1);
    expect(trail.at(-1)).toMatchObject({ actorKind: 'SYSTEM', actorName: 'chain-events' });
    expect(await certificateOf(issuedRequest)).toMatchObject({
      status: 'VALID',
      tokenId,
      txHash: played.issued.txHash,
      blockNumber: played.issued.blockNumber,
    });
  });

  it('waits for a wallet when the requester has none, and issues once WalletLinked arrives', async () => {
    const { requestId, userId } = await approvedRequest(free);
    const pending = await until(() => certificateOf(requestId), 'the pending certificate');
    expect(pending).toMatchObject({ status: 'ISSUING', holderAddress: null, tokenId: null });
    await linkWallet(userId, anvilDevAccounts[5].address);
    const ready = await until(async () => {
      const row = await certificateOf(requestId);
      return row?.tokenId ? row : undefined;
    }, 'the documents after WalletLinked');
    expect(ready.holderAddress).toBe(anvilDevAccounts[5].address);
    expect((await commandFor(requestId)).holder).toBe(anvilDevAccounts[5].address);
  });
});

describe('verification', () => {
  const stepsOf = (verification: { steps: Array<{ key: string; passed: boolean }> }) =>
    Object.fromEntries(verification.steps.map((step) => [step.key, step.passed]));

  it('says VALID with every step passed, by id and by token id', async () => {
    const certificate = (await certificateOf(issuedRequest))!;
    const byId = await modules.verification.verify({ id: certificate.id });
    expect(byId.verdict).toBe('VALID');
    expect(stepsOf(byId)).toEqual({
      lookup: true,
      onChain: true,
      integrity: true,
      credential: true,
      issuer: true,
      holder: true,
      revocation: true,
      expiry: true,
      confirmations: true,
    });
    expect(byId.steps.find((step) => step.key === 'issuer')!.detail).toContain(anvilDevAccounts[0].address);
    expect(byId.certificate?.id).toBe(certificate.id);
    const byToken = await modules.verification.verify({ tokenId: certificate.tokenId });
    expect(byToken.verdict).toBe('VALID');
  });

  it('says UNKNOWN for an unknown id or token', async () => {
    expect((await modules.verification.verify({ id: randomUUID() })).verdict).toBe('UNKNOWN');
    const unknownToken = await modules.verification.verify({ tokenId: '12345' });
    expect(unknownToken.verdict).toBe('UNKNOWN');
    expect(stepsOf(unknownToken)).toEqual({ lookup: true, onChain: false });
  });

  it('says INVALID at the integrity step when the stored metadata was tampered with', async () => {
    const certificate = (await certificateOf(issuedRequest))!;
    const blocks = path.join(contentDir, 'ipfs', 'blocks');
    const original = JSON.stringify(await readJson(certificate.metadataCid!), null, 2) + '\n';
    const file = readdirSync(blocks, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name))
      .find((candidate) => readFileSync(candidate, 'utf8') === original)!;
    expect(file).toBeDefined();
    writeFileSync(file, original.replace(holderAccount.address, anvilDevAccounts[6].address));
    try {
      const verification = await modules.verification.verify({ id: certificate.id });
      expect(verification.verdict).toBe('INVALID');
      const integrity = verification.steps.find((step) => step.key === 'integrity')!;
      expect(integrity.passed).toBe(false);
      // The embedded store re-hashes blocks on read and refuses the tampered one.
      expect(integrity.detail).toContain(
        `No intact metadata: the content store cannot serve ${certificate.metadataCid}`,
      );
    } finally {
      writeFileSync(file, original);
    }
    expect((await modules.verification.verify({ id: certificate.id })).verdict).toBe('VALID');
  });

  it('says REVOKED once revoked on chain, and the request follows CertificateRevoked', async () => {
    const certificate = (await certificateOf(issuedRequest))!;
    const sent = await certificateContract.getFunction('revoke').send(tokenId, 'issued in error');
    const receipt = (await sent.wait())!;
    const verification = await modules.verification.verify({ id: certificate.id });
    expect(verification.verdict).toBe('REVOKED');
    expect(stepsOf(verification)).toMatchObject({ integrity: true, issuer: true, revocation: false });
    await publish('CertificateRevoked', {
      chainId: deployment.chainId,
      tokenId,
      holder: holderAccount.address,
      reason: 'issued in error',
      revokedBy: anvilDevAccounts[0].address,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    });
    await until(async () => (await statusOf(issuedRequest)) === 'REVOKED', 'REVOKED');
    expect(await certificateOf(issuedRequest)).toMatchObject({
      status: 'REVOKED',
      revokedReason: 'issued in error',
    });
  });

  it('refuses a verification that names nothing', async () => {
    await expect(modules.verification.verify({})).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
