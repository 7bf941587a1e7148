import { cidToDigest } from '@symbeon/contracts';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomCid, startChainFixture, type ChainFixture } from '../../test-fixture.js';
import { ChainCommandFailed, type ChainCommandFailedPayload } from './transactions-storage.js';

// The transaction manager against a real anvil node and a real database.
let chain: ChainFixture;
const holder = anvilDevAccounts[4].address;
const inAYear = () => new Date(Date.now() + 365 * 24 * 3600_000);

/** ChainCommandFailed as other subgraphs receive it (the outbox relayed onto the bus). */
const failures: ChainCommandFailedPayload[] = [];
const failuresOf = (commandId: string) => failures.filter((failure) => failure.commandId === commandId);
async function eventually(probe: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  // The indexer is not needed here; the sender loop is driven by waitSettled.
  chain = await startChainFixture({ CHAIN_INDEXER: 'false' });
  await chain.transport.subscribe(
    async (event) => {
      failures.push(event.payload as ChainCommandFailedPayload);
    },
    { group: 'test.command-failures', types: [ChainCommandFailed] },
  );
});

afterAll(async () => {
  await chain?.close();
});

const tokenOf = (cid: string) => BigInt(cidToDigest(cid)).toString();

describe('transaction manager', () => {
  it('sends a command once per idempotency key', async () => {
    const transactions = chain.service.modules.transactions;
    const contentCid = await randomCid();
    const command = { holder, contentCid, expiresAt: inAYear(), idempotencyKey: 'issue-once' };
    const [first, second] = await Promise.all([transactions.issue(command), transactions.issue(command)]);
    expect(second.id).toBe(first.id);
    const mined = await transactions.waitSettled(first.id);
    expect(mined.status).toBe('MINED');
    const again = await transactions.issue(command);
    expect(again.id).toBe(first.id);
    expect(again.status).toBe('MINED');
    // One token on chain: its holder has exactly one certificate.
    const certificate = await chain.provider.call({
      to: chain.deployment.contracts.SymbeonCertificate.address,
      data: chain.service.registry.certificate.iface.encodeFunctionData('ownerOf', [tokenOf(contentCid)]),
    });
    expect(certificate.toLowerCase()).toContain(holder.slice(2).toLowerCase());
    // The same key with another command is refused.
    await expect(
      transactions.issue({ ...command, holder: anvilDevAccounts[5].address }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('refuses bad input with codes and sends nothing', async () => {
    const transactions = chain.service.modules.transactions;
    const before = await chain.provider.getTransactionCount(transactions.signerAddress, 'pending');
    await expect(
      transactions.issue({
        holder: 'not-an-address',
        contentCid: await randomCid(),
        idempotencyKey: 'bad-1',
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.holder' });
    await expect(
      transactions.issue({ holder, contentCid: 'bafy-nope', idempotencyKey: 'bad-2' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.contentCid' });
    await expect(
      transactions.issue({
        holder,
        contentCid: await randomCid(),
        expiresAt: new Date(Date.now() - 1000),
        idempotencyKey: 'bad-3',
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.expiresAt' });
    expect(await chain.service.modules.storage.transactions.findByKey('bad-1')).toBeUndefined();
    expect(await chain.provider.getTransactionCount(transactions.signerAddress, 'pending')).toBe(before);
  });

  it('gives 20 concurrent commands distinct, gap-free nonces, all mined', async () => {
    const transactions = chain.service.modules.transactions;
    const start = await chain.provider.getTransactionCount(transactions.signerAddress, 'pending');
    const cids = await Promise.all(Array.from({ length: 20 }, () => randomCid()));
    const sent = await Promise.all(
      cids.map((contentCid, index) =>
        transactions.issue({ holder, contentCid, expiresAt: null, idempotencyKey: `concurrent-${index}` }),
      ),
    );
    const settled = await Promise.all(sent.map((row) => transactions.waitSettled(row.id)));
    expect(settled.every((row) => row.status === 'MINED')).toBe(true);
    const nonces = settled.map((row) => row.nonce!).sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: 20 }, (_, index) => start + index));
  });

  it('records a reverted call as FAILED with the decoded error name', async () => {
    const transactions = chain.service.modules.transactions;
    const contentCid = await randomCid();
    const first = await transactions.issue({ holder, contentCid, idempotencyKey: 'dup-a' });
    await transactions.waitSettled(first.id);
    const duplicate = await transactions.issue({ holder, contentCid, idempotencyKey: 'dup-b' });
    const settled = await transactions.waitSettled(duplicate.id);
    expect(settled.status).toBe('FAILED');
    expect(settled.error).toMatch(/^CertificateAlreadyExists\(/);

    // Mined and reverted: a revoke of an unknown token sent past the estimate (two revokes race).
    const other = await randomCid();
    const issued = await transactions.issue({ holder, contentCid: other, idempotencyKey: 'race-issue' });
    await transactions.waitSettled(issued.id);
    const [a, b] = await Promise.all([
      transactions.revoke({ tokenId: tokenOf(other), reason: 'one', idempotencyKey: 'race-a' }),
      transactions.revoke({ tokenId: tokenOf(other), reason: 'two', idempotencyKey: 'race-b' }),
    ]);
    const outcomes = await Promise.all([transactions.waitSettled(a.id), transactions.waitSettled(b.id)]);
    expect(outcomes.map((row) => row.status).sort()).toEqual(['FAILED', 'MINED']);
    expect(outcomes.find((row) => row.status === 'FAILED')!.error).toMatch(/^CertificateAlreadyRevoked\(/);
  });

  it('lets a command refused before sending be retried under its key once the cause is gone', async () => {
    const transactions = chain.service.modules.transactions;
    const pending = () => chain.provider.getTransactionCount(transactions.signerAddress, 'pending');
    const contentCid = await randomCid();
    const command = { tokenId: tokenOf(contentCid), reason: 'retried', idempotencyKey: 'refused-revoke' };
    const before = await pending();

    // Not issued yet: the estimate reverts, nothing is signed or sent.
    const refused = await transactions.revoke(command);
    expect(refused).toMatchObject({ status: 'FAILED', nonce: null, hash: null });
    expect(refused.error).toMatch(/^CertificateNotFound\(/);
    // Still refused: evaluated again, same row, still nothing sent.
    const stillRefused = await transactions.revoke(command);
    expect(stillRefused).toMatchObject({ id: refused.id, status: 'FAILED', nonce: null });
    expect(stillRefused.error).toMatch(/^CertificateNotFound\(/);
    // Each refusal is announced to whoever asked: retryable, nothing was sent under the key.
    await eventually(() => failuresOf('refused-revoke').length === 2, 'two ChainCommandFailed');
    expect(failuresOf('refused-revoke')[0]).toMatchObject({
      kind: 'revoke',
      transactionId: refused.id,
      outcome: 'REFUSED',
      retryable: true,
      error: expect.stringMatching(/^CertificateNotFound\(/) as unknown,
    });
    // The key stays bound to its command.
    await expect(transactions.revoke({ ...command, reason: 'another' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(await pending()).toBe(before);

    const issued = await transactions.issue({ holder, contentCid, idempotencyKey: 'refused-revoke-issue' });
    await transactions.waitSettled(issued.id);
    // The cause is gone: concurrent retries of the key send it once, on the same row.
    const retries = await Promise.all([transactions.revoke(command), transactions.revoke(command)]);
    expect(retries.map((row) => row.id)).toEqual([refused.id, refused.id]);
    const mined = await transactions.waitSettled(refused.id);
    expect(mined).toMatchObject({
      id: refused.id,
      status: 'MINED',
      error: null,
      createdAt: refused.createdAt,
    });
    expect(mined.nonce).toBe(before + 1);
    expect(await pending()).toBe(before + 2);
    expect(await chain.service.modules.storage.transactions.attempts(refused.id)).toHaveLength(1);
    // Sent once it was: the key now answers the mined transaction and sends nothing more.
    expect(await transactions.revoke(command)).toMatchObject({ id: refused.id, status: 'MINED' });
    expect(await pending()).toBe(before + 2);
  });

  it('keeps FAILED for a transaction that was sent and reverted on chain, whatever the retries', async () => {
    const transactions = chain.service.modules.transactions;
    const contentCid = await randomCid();
    const issued = await transactions.issue({ holder, contentCid, idempotencyKey: 'reverted-issue' });
    await transactions.waitSettled(issued.id);
    // Two revokes both pass the estimate; the second one mined reverts.
    const sent = await Promise.all(
      ['reverted-a', 'reverted-b'].map((idempotencyKey) =>
        transactions.revoke({ tokenId: tokenOf(contentCid), reason: 'race', idempotencyKey }),
      ),
    );
    const outcomes = await Promise.all(sent.map((row) => transactions.waitSettled(row.id)));
    const reverted = outcomes.find((row) => row.status === 'FAILED')!;
    expect(reverted.nonce).not.toBeNull();
    expect(reverted.minedHash).toMatch(/^0x[0-9a-f]{64}$/);

    const before = await chain.provider.getTransactionCount(transactions.signerAddress, 'pending');
    const retried = await transactions.revoke({
      tokenId: tokenOf(contentCid),
      reason: 'race',
      idempotencyKey: reverted.idempotencyKey,
    });
    expect(retried).toMatchObject({
      id: reverted.id,
      status: 'FAILED',
      nonce: reverted.nonce,
      minedHash: reverted.minedHash,
      error: reverted.error,
    });
    expect(await chain.provider.getTransactionCount(transactions.signerAddress, 'pending')).toBe(before);
    // Announced once, final for the key; the mined one not at all.
    await eventually(() => failuresOf(reverted.idempotencyKey).length > 0, 'ChainCommandFailed REVERTED');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(failuresOf(reverted.idempotencyKey)).toEqual([
      expect.objectContaining({ outcome: 'REVERTED', retryable: false, hash: reverted.minedHash }),
    ]);
    const mined = outcomes.find((row) => row.status === 'MINED')!;
    expect(failuresOf(mined.idempotencyKey)).toEqual([]);
  });

  it('re-broadcasts a transaction persisted before a crash, with the same hash', async () => {
    // The process "dies" between persisting the signed transaction and broadcasting it.
    await chain.restart({
      broadcast: () => Promise.reject(new Error('simulated crash before broadcast')),
    });
    await chain.service.modules.transactions.stop();
    const contentCid = await randomCid();
    const persisted = await chain.service.modules.transactions.issue({
      holder,
      contentCid,
      idempotencyKey: 'crash-1',
    });
    expect(persisted.status).toBe('PENDING');
    expect(persisted.hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await chain.provider.getTransaction(persisted.hash!)).toBeNull();

    const restarted = await chain.restart();
    const mined = await restarted.modules.transactions.waitSettled(persisted.id);
    expect(mined).toMatchObject({ status: 'MINED', hash: persisted.hash, nonce: persisted.nonce });
    const receipt = await chain.provider.getTransactionReceipt(persisted.hash!);
    expect(receipt?.status).toBe(1);
  });
});
