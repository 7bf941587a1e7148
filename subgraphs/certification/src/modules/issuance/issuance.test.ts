import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cidToDigest } from '@symbeon/contracts';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { asc, eq } from 'drizzle-orm';
import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { ChainCommandRequested } from './issuance-storage.js';
import {
  approvedRequest,
  certificateContract,
  certificateOf,
  commandFor,
  contentDir,
  contents,
  deployment,
  admin,
  database,
  free,
  issuance,
  linkWallet,
  principal,
  modules,
  playChain,
  priced,
  publish,
  readJson,
  statusOf,
  until,
  useChainFixture,
} from '../../test-fixture.js';

// Issuance and verification over a real database, a real anvil with the contracts, a real embedded content
// store and the in-process bus. The chain subgraph is played by the test (subgraphs never import each
// other): it reads certification's ChainCommandRequested, sends the issue transaction itself and publishes
// CertificateIssued / CertificateRevoked in the shape chain's indexer publishes them (that side is tested in
// subgraphs/chain/src/modules/commands/commands.test.ts).
/** The request issued in 'issuance', verified in 'verification'. */
let issuedRequest: string;
let tokenId: string;
const holderAccount = anvilDevAccounts[4];

useChainFixture({ name: 'issuance' });

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

describe('a command the chain did not carry out', () => {
  const commandsOf = async (requestId: string) =>
    (
      await database.db
        .select()
        .from(schema.outbox)
        .where(eq(schema.outbox.type, ChainCommandRequested))
        .orderBy(asc(schema.outbox.seq))
    )
      .map((row) => row.payload as { commandId: string; requestId: string; contentCid: string })
      .filter((payload) => payload.requestId === requestId);
  const failed = (commandId: string, outcome: 'REFUSED' | 'REVERTED', error: string) =>
    publish('ChainCommandFailed', {
      commandId,
      kind: 'issue',
      transactionId: randomUUID(),
      outcome,
      error,
      hash: outcome === 'REVERTED' ? `0x${'ab'.repeat(32)}` : null,
      retryable: outcome === 'REFUSED',
    });

  it('is recorded on the certificate; an operator sends it again (refused) or anew (reverted), and it issues once', async () => {
    const { requestId } = await approvedRequest(free, Wallet.createRandom().address);
    const first = await until(async () => {
      const row = await certificateOf(requestId);
      return row?.commandId ? row : undefined;
    }, 'the issue command');
    await expect(issuance.retryIssuance(database.db, admin, requestId)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });

    // Refused before sending (nothing went out under the key): the same command again.
    await failed(first.commandId!, 'REFUSED', 'gas price above the cap');
    await until(async () => (await certificateOf(requestId))?.chainError, 'the refusal recorded');
    expect(await certificateOf(requestId)).toMatchObject({
      chainError: 'issue refused: gas price above the cap',
      chainErrorRetryable: true,
      status: 'ISSUING',
    });
    await expect(
      issuance.retryIssuance(database.db, principal(randomUUID(), []), requestId),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await issuance.retryIssuance(database.db, admin, requestId);
    const again = await commandsOf(requestId);
    expect(again.map((command) => command.commandId)).toEqual([first.commandId, first.commandId]);
    expect((await certificateOf(requestId))?.chainError).toBeNull();

    // Reverted on chain (final for the key): a new attempt with new documents under a new command id.
    await failed(first.commandId!, 'REVERTED', 'CertificateInvalidExpiry(1, 2)');
    await until(async () => (await certificateOf(requestId))?.chainError, 'the revert recorded');
    const retried = await issuance.retryIssuance(database.db, admin, requestId);
    expect(retried).toMatchObject({ attempt: 2, commandId: `${requestId}:2`, chainError: null });
    // Documents rebuilt (dated now: the token id changes unless the retry falls in the same second).
    expect(retried.metadataCid).toBeTruthy();
    const commands = await commandsOf(requestId);
    expect(commands).toHaveLength(3);
    const latest = commands.at(-1)!;
    expect(latest.commandId).toBe(`${requestId}:2`);

    // A late failure of the first attempt's command no longer concerns the certificate.
    await failed(first.commandId!, 'REVERTED', 'late');
    const played = await playChain(latest as Parameters<typeof playChain>[0]);
    await publish('CertificateIssued', played.issued);
    await until(async () => ((await statusOf(requestId)) === 'ISSUED' ? true : undefined), 'ISSUED');
    expect(await certificateOf(requestId)).toMatchObject({
      status: 'VALID',
      tokenId: played.tokenId,
      chainError: null,
    });
  });
});

describe('a chain reorganisation', () => {
  it('takes an issuance undone by a reorg back to ISSUING, and the replayed CertificateIssued issues it again', async () => {
    const { requestId } = await approvedRequest(free, Wallet.createRandom().address);
    await until(async () => (await certificateOf(requestId))?.tokenId, 'the certificate documents');
    const played = await playChain(await commandFor(requestId));
    await publish('CertificateIssued', played.issued);
    await until(async () => ((await statusOf(requestId)) === 'ISSUED' ? true : undefined), 'ISSUED');

    // Logs of other transactions, and payments, concern no certificate.
    await publish('ChainReorganized', {
      chainId: deployment.chainId,
      removedLogs: [
        {
          txHash: `0x${'cd'.repeat(32)}`,
          blockNumber: 1,
          eventName: 'CertificateIssued',
          address: played.issued.contract,
        },
        {
          txHash: played.issued.txHash,
          blockNumber: played.issued.blockNumber,
          eventName: 'PaymentReceived',
          address: played.issued.contract,
        },
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await statusOf(requestId)).toBe('ISSUED');

    await publish('ChainReorganized', {
      chainId: deployment.chainId,
      removedLogs: [
        {
          txHash: played.issued.txHash,
          blockNumber: played.issued.blockNumber,
          eventName: 'CertificateIssued',
          address: played.issued.contract,
        },
      ],
    });
    await until(
      async () => ((await statusOf(requestId)) === 'ISSUING' ? true : undefined),
      'back to ISSUING',
    );
    expect(await certificateOf(requestId)).toMatchObject({
      status: 'ISSUING',
      txHash: null,
      chainError: expect.stringContaining('reorganised out of block') as unknown,
    });
    const trail = await modules.storage.requests.findTransitions([requestId]);
    expect(trail.at(-1)).toMatchObject({ fromStatus: 'ISSUED', toStatus: 'ISSUING', actorKind: 'SYSTEM' });

    // The indexer replays the new chain: the same issuance, mined again (another block, another event id).
    await publish('CertificateIssued', { ...played.issued, blockNumber: played.issued.blockNumber + 1 });
    await until(async () => ((await statusOf(requestId)) === 'ISSUED' ? true : undefined), 'ISSUED again');
    expect(await certificateOf(requestId)).toMatchObject({ status: 'VALID', chainError: null });
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
