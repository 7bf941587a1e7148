import { randomUUID } from 'node:crypto';
import { cidToDigest } from '@symbeon/contracts';
import { Wallet } from 'ethers';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { ChainCommandRequested } from '../issuance/issuance-storage.js';
import { RenewalAuditPassed, RenewalAuditRequested } from '../audit/audit-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import { CertificateExpired, type LifecycleCommand } from './lifecycle-manager.js';
import {
  admin,
  approvedRequest,
  auditor,
  auditorId,
  certificateContract,
  certificateOf,
  commandFor,
  database,
  free,
  modules,
  playChain,
  principal,
  provider,
  publish,
  readJson,
  statusOf,
  transport,
  until,
  useChainFixture,
} from '../../test-fixture.js';

// Revocation, renewal, expiry and the verification link over a real database, a real anvil with the
// contracts, a real embedded content store and the in-process bus (the issuance tests' fixture). The chain
// subgraph is played by the test: it reads certification's ChainCommandRequested, sends the transaction and
// publishes CertificateIssued / Revoked / Renewed as chain's indexer does (that side: chain's commands.test.ts).
useChainFixture({ name: 'lifecycle', lifecycle: true });

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
async function validCertificate(programme: ProgrammeRow = free) {
  // A wallet belongs to one user: each requester gets a fresh one.
  const { requestId, userId } = await approvedRequest(programme, Wallet.createRandom().address);
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
    // Listening before the command exists: the bus delivers a group what is published after it subscribed.
    const received: unknown[] = [];
    const listener = await transport.subscribe(
      (event) => {
        received.push(event.payload);
        return Promise.resolve();
      },
      { group: `test-chain-${randomUUID()}`, types: [ChainCommandRequested] },
    );
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

describe('renewal with a re-audit (renewalRequiresAudit)', () => {
  const DAY = 86_400_000;
  const outboxOf = async (type: string, certificateId: string) =>
    (await database.db.select().from(schema.outbox).where(eq(schema.outbox.type, type))).filter(
      (row) => (row.payload as { certificateId?: string }).certificateId === certificateId,
    );
  async function reauditedProgramme(slug: string, extra: Record<string, unknown> = {}) {
    const row = await modules.programmes.createProgramme(admin, {
      slug,
      name: slug,
      description: 'Renewal re-audited',
      validityDays: 365,
      auditorIds: [auditorId],
      renewalRequiresAudit: true,
      ...extra,
    });
    return modules.programmes.publishProgramme(admin, row.id);
  }
  async function dueForRenewal(programme: ProgrammeRow) {
    const issued = await validCertificate(programme);
    await modules.lifecycle.sweep(new Date(issued.certificate.expiresAt!.getTime() - 10 * DAY));
    expect(await statusOf(issued.requestId)).toBe('RENEWAL_DUE');
    return issued;
  }

  it('runs the automated audit again first, and sends the renewal to the chain only once it passed', async () => {
    const programme = await reauditedProgramme('reaudit-pass');
    const { certificate, holder } = await dueForRenewal(programme);
    const term = certificate.expiresAt!;

    await modules.lifecycle.renew(holder, certificate.id);
    expect(await lifecycleCommands(certificate.id)).toEqual([]);
    expect(await modules.storage.audits.findRenewalAudit(certificate.id, term)).toMatchObject({
      status: 'QUEUED',
    });
    // Asking again while it is queued asks nothing more.
    await modules.lifecycle.renew(holder, certificate.id);
    expect(await outboxOf(RenewalAuditRequested, certificate.id)).toHaveLength(1);

    // The renewal audit job's work.
    const outcome = await modules.audits.reauditForRenewal(certificate.id, term);
    expect(outcome).toMatchObject({ outcome: 'PASSED' });
    const report = await readJson((outcome as { reportCid: string }).reportCid);
    expect(report).toMatchObject({
      kind: 'symbeon.certification.renewal-audit-report',
      certificateId: certificate.id,
      passed: true,
    });
    expect(await outboxOf(RenewalAuditPassed, certificate.id)).toHaveLength(1);
    // RenewalAuditPassed → the lifecycle sends the renewal; the new documents name the renewal audit's report.
    const [command] = await until(async () => {
      const commands = await lifecycleCommands(certificate.id);
      return commands.length > 0 ? commands : undefined;
    }, 'the renew command');
    expect(command).toMatchObject({
      kind: 'renew',
      expiresAt: new Date(term.getTime() + 365 * DAY).toISOString(),
    });
    const metadata = await readJson((command as Extract<LifecycleCommand, { kind: 'renew' }>).contentCid);
    const traits = metadata.attributes as Array<{ trait_type: string; value: unknown }>;
    expect(JSON.stringify(traits)).toContain((outcome as { reportCid: string }).reportCid);
    // A second run of the finished audit does nothing.
    expect(await modules.audits.reauditForRenewal(certificate.id, term)).toMatchObject({
      outcome: 'SKIPPED',
    });
  });

  it('keeps the certificate as it is when the re-audit fails; asking again runs it again', async () => {
    // A prerequisite the holder never completed: the re-audit's prerequisites check fails.
    const programme = await reauditedProgramme('reaudit-fail', { prerequisiteCourseIds: [randomUUID()] });
    const { certificate, holder, requestId } = await dueForRenewal(programme);
    const term = certificate.expiresAt!;
    await modules.lifecycle.renew(holder, certificate.id);
    expect(await modules.audits.reauditForRenewal(certificate.id, term)).toMatchObject({ outcome: 'FAILED' });
    const failed = await modules.storage.audits.findRenewalAudit(certificate.id, term);
    expect(failed?.status).toBe('FAILED');
    expect(failed?.checks.find((check) => check.key === 'prerequisites_complete')?.passed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await lifecycleCommands(certificate.id)).toEqual([]);
    expect(await statusOf(requestId)).toBe('RENEWAL_DUE');
    expect((await certificateOf(requestId))?.expiresAt?.getTime()).toBe(term.getTime());

    // Someone else cannot ask; the holder can, and it is queued again.
    await expect(modules.lifecycle.renew(principal(randomUUID(), []), certificate.id)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await modules.lifecycle.renew(holder, certificate.id);
    expect((await modules.storage.audits.findRenewalAudit(certificate.id, term))?.status).toBe('QUEUED');
    expect(await outboxOf(RenewalAuditRequested, certificate.id)).toHaveLength(2);
  });
});

describe('expiry sweep', () => {
  it("marks expired certificates EXPIRED once by the chain's clock, announces them, and moves their requests to EXPIRED", async () => {
    const { requestId, certificate } = await validCertificate();
    await modules.lifecycle.sweep();
    expect(await statusOf(requestId)).toBe('ISSUED');
    // The development chain moved past the expiry (the wall clock has not): the contract's rule decides.
    const later = new Date(certificate.expiresAt!.getTime() + 1000);
    await provider.send('evm_setNextBlockTimestamp', [Math.floor(later.getTime() / 1000) + 60]);
    await provider.send('evm_mine', []);
    const first = await modules.lifecycle.sweep();
    expect(first.expired).toBeGreaterThanOrEqual(1);
    expect(await statusOf(requestId)).toBe('EXPIRED');
    expect(await certificateOf(requestId)).toMatchObject({ status: 'EXPIRED' });
    expect(await modules.lifecycle.sweep()).toEqual({ expired: 0, renewalDue: 0 });
    const announced = (
      await database.db.select().from(schema.outbox).where(eq(schema.outbox.type, CertificateExpired))
    ).filter((row) => (row.payload as { certificateId: string }).certificateId === certificate.id);
    expect(announced).toHaveLength(1);
    const trail = await modules.storage.requests.findTransitions([requestId]);
    expect(trail.at(-1)).toMatchObject({ toStatus: 'EXPIRED', actorKind: 'SYSTEM' });
    // Verification agrees.
    const verification = await modules.verification.verify({ id: certificate.id });
    expect(verification.verdict).toBe('EXPIRED');
  });
});
