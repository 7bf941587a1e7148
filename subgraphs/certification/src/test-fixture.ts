import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  certificateAnchorAbi,
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
import { afterAll, beforeAll, expect } from 'vitest';
import * as schema from './db/schema.js';
import { certificationMigrations, createCertificationModules } from './service.js';
import { createKnownUsersStorage } from './modules/known-users/known-users-storage.js';
import type { ProgrammeRow } from './modules/programmes/programmes-storage.js';
import { systemActor } from './modules/requests/requests-manager.js';
import { createChainReader, type ChainReader } from './modules/verification/chain-reader.js';
import { consumeIssuanceEvents } from './modules/issuance/issuance-consumer.js';
import { createIssuanceManager, type IssuanceManager } from './modules/issuance/issuance-manager.js';
import {
  ChainCommandRequested,
  type ChainCommandRequestedPayload,
} from './modules/issuance/issuance-storage.js';
import { consumeLifecycleEvents } from './modules/lifecycle/lifecycle-consumer.js';
import { consumeBatchEvents } from './modules/batches/batches-consumer.js';
import type { AnchorBatchCommandPayload } from './modules/batches/batches-manager.js';

// The certification tests that need the chain (issuance, verification, lifecycle) over a real database, a real
// anvil with the contracts, a real embedded content store and the in-process bus. The chain subgraph is
// played by the test (subgraphs never import each other): `playChain` sends the issue transaction and gives
// the CertificateIssued payload chain's indexer would publish (that side: chain's commands.test.ts).
// State is module-level and exported as live bindings: each test file (its own module instance in vitest)
// calls useChainFixture() once, then reads `modules`, `database`... after beforeAll.
export let node: AnvilNode;
export let deployment: Deployment;
export let provider: JsonRpcProvider;
export let database: TestDatabase<typeof schema>;
export let contents: ContentStore;
export let contentDir: string;
export let chain: ChainReader;
export let transport: EventTransport;
export let modules: ReturnType<typeof createCertificationModules>;
export let consumers: Subscription;
export let relay: ReturnType<typeof startOutboxRelay>;
export let free: ProgrammeRow;
export let certificateContract: Contract;
export let lifecycleEvents: Subscription | undefined;
export let priced: ProgrammeRow;
/** The issuance manager the consumers use (tests call its operator actions, e.g. retryIssuance). */
export let issuance: IssuanceManager;
/** A free MERKLE_BATCH programme (created when the fixture is asked for batches). */
export let batched: ProgrammeRow;
/** CertificateAnchor, signed by the issuer (dev account 0). */
export let anchorContract: Contract;
export let batchEvents: Subscription | undefined;

export const principal = (userId: string, roles: string[]): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
export const admin = principal(randomUUID(), ['ADMIN']);
export const auditor = principal(randomUUID(), ['AUDITOR']);
export const auditorId = (auditor as { userId: string }).userId;

export async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  ms = 15_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function publish(type: string, payload: unknown, id = randomUUID()) {
  await transport.publish({ id, type, occurredAt: new Date().toISOString(), payload });
  return id;
}

export async function linkWallet(userId: string, address: string) {
  await publish('identity.WalletLinked', {
    userId,
    address: address.toLowerCase(),
    chainId: 31337,
    linkedAt: new Date().toISOString(),
  });
}

/** A request by a new requester, reviewed and approved (the audit's SYSTEM moves made by hand). */
export async function approvedRequest(programme: ProgrammeRow, wallet?: string) {
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

export const statusOf = async (requestId: string) =>
  (await modules.storage.requests.findByIds([requestId]))[0]!.status;
export const certificateOf = async (requestId: string) =>
  (await modules.storage.certificates.findByRequestIds([requestId]))[0];

export async function commandFor(requestId: string): Promise<ChainCommandRequestedPayload> {
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

export async function readJson(cid: string): Promise<Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await contents.get(cid))!) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

/** What the chain subgraph does with a command: send it, and its indexer publishes CertificateIssued. */
export async function playChain(command: ChainCommandRequestedPayload) {
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

/** What the chain subgraph does with an anchorBatch command: send it; its indexer publishes BatchAnchored. */
export async function playAnchor(command: AnchorBatchCommandPayload) {
  const sent = await anchorContract
    .getFunction('anchorBatch')
    .send(command.merkleRoot, command.size, cidToDigest(command.metadataCid));
  const receipt = (await sent.wait())!;
  const anchored = {
    chainId: deployment.chainId,
    contract: deployment.contracts.CertificateAnchor.address,
    batchId: BigInt(command.merkleRoot).toString(),
    size: command.size,
    contentCid: command.metadataCid,
    issuer: anvilDevAccounts[0].address,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    txHash: receipt.hash,
    logIndex: 0,
  };
  return { receipt, anchored };
}

/**
 * Starts everything once for the calling test file; `lifecycle` also runs the lifecycle consumers, `batches`
 * creates the MERKLE_BATCH programme `batched` with batches of that size.
 */
export function useChainFixture(options: {
  name: string;
  lifecycle?: boolean;
  batches?: { maxSize: number; maxWaitSeconds?: number };
}) {
  beforeAll(async () => {
    node = await startAnvil({ port: 0 });
    deployment = await deployContracts({
      rpcUrl: node.rpcUrl,
      deployerKey: anvilDevAccounts[0].privateKey,
      issuers: [anvilDevAccounts[0].address],
      paymentReceiver: false,
    });
    contentDir = mkdtempSync(path.join(tmpdir(), `symbeon-${options.name}-`));
    const deploymentPath = path.join(contentDir, 'deployment.json');
    writeDeployment(deploymentPath, deployment);
    provider = new JsonRpcProvider(node.rpcUrl, deployment.chainId, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    certificateContract = new Contract(
      deployment.contracts.SymbeonCertificate.address,
      symbeonCertificateAbi,
      new Wallet(anvilDevAccounts[0].privateKey, provider),
    );
    anchorContract = new Contract(
      deployment.contracts.CertificateAnchor.address,
      certificateAnchorAbi,
      certificateContract.runner,
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
      { maxSize: options.batches?.maxSize ?? 64, maxWaitSeconds: options.batches?.maxWaitSeconds ?? 3600 },
    );
    transport = createMemoryEventTransport();
    issuance = createIssuanceManager({
      contents,
      chainId: () => chain.deployment().chainId,
      issuer: { name: 'Symbeon', url: 'https://symbeon.example' },
      logger,
      batches: modules.batches,
    });
    consumers = await consumeIssuanceEvents(database.db, transport, issuance);
    batchEvents = await consumeBatchEvents(database.db, transport, modules.batches);
    if (options.lifecycle)
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
    priced = await create('priced', { price: { amountMinor: 4900, currency: 'EUR' } });
    if (options.batches) batched = await create('batched', { issuanceMode: 'MERKLE_BATCH' });
  }, 60_000);

  afterAll(async () => {
    await consumers?.close();
    await batchEvents?.close();
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
}
