import { randomBytes } from 'node:crypto';
import { Interface, id, hexlify, isCallException } from 'ethers';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cidToDigest,
  digestToCid,
  ISSUER_ROLE,
  sha256Digest,
  symbeonCertificateAbi,
  symbeonCertificateBytecode,
} from '../src/index.js';
import {
  as,
  deploy,
  eventsOf,
  expectRevert,
  increaseTime,
  interfaceId,
  latestTimestamp,
  mined,
  startChain,
  type Chain,
  type ContractOf,
} from './chain.js';

const randomDigest = () => hexlify(randomBytes(32));
let chain: Chain;
type Certificate = ContractOf<typeof symbeonCertificateAbi>;
let certificate: Certificate;
/** The certificate as the issuer / as someone without a role. */
let asIssuer: Certificate;
let asStranger: Certificate;

beforeAll(async () => {
  chain = await startChain();
  certificate = await deploy(
    chain.admin,
    symbeonCertificateAbi,
    symbeonCertificateBytecode,
    chain.admin.address,
  );
  await mined(certificate.grantRole(ISSUER_ROLE, chain.issuer.address));
  asIssuer = as(certificate, chain.issuer);
  asStranger = as(certificate, chain.stranger);
});

afterAll(async () => {
  await chain?.stop();
});

async function issue(holder = chain.holders[0]!.address, expiresAt = 0) {
  const digest = randomDigest();
  const receipt = await mined(asIssuer.issue(holder, digest, expiresAt));
  return { digest, tokenId: BigInt(digest), receipt };
}

describe('roles', () => {
  it('gives the constructor admin DEFAULT_ADMIN_ROLE and lets it grant ISSUER_ROLE', async () => {
    expect(await certificate.hasRole(await certificate.DEFAULT_ADMIN_ROLE(), chain.admin.address)).toBe(true);
    expect(await certificate.ISSUER_ROLE()).toBe(id('ISSUER_ROLE'));
    expect(await certificate.hasRole(ISSUER_ROLE, chain.issuer.address)).toBe(true);
    expect(await certificate.hasRole(ISSUER_ROLE, chain.stranger.address)).toBe(false);
  });

  it('refuses issue, revoke and renew from accounts without ISSUER_ROLE, the admin included', async () => {
    const { tokenId } = await issue();
    const unauthorized = (account: string) => [account, ISSUER_ROLE];
    await expectRevert(
      certificate,
      asStranger.issue(chain.holders[0]!.address, randomDigest(), 0),
      'AccessControlUnauthorizedAccount',
      unauthorized(chain.stranger.address),
    );
    await expectRevert(
      certificate,
      certificate.issue(chain.holders[0]!.address, randomDigest(), 0),
      'AccessControlUnauthorizedAccount',
      unauthorized(chain.admin.address),
    );
    await expectRevert(
      certificate,
      asStranger.revoke(tokenId, 'no'),
      'AccessControlUnauthorizedAccount',
      unauthorized(chain.stranger.address),
    );
    await expectRevert(
      certificate,
      asStranger.renew(tokenId, 0, randomDigest()),
      'AccessControlUnauthorizedAccount',
      unauthorized(chain.stranger.address),
    );
    await expectRevert(
      certificate,
      asStranger.grantRole(ISSUER_ROLE, chain.stranger.address),
      'AccessControlUnauthorizedAccount',
      [chain.stranger.address, await certificate.DEFAULT_ADMIN_ROLE()],
    );
    expect((await certificate.certificate(tokenId)).revoked).toBe(false);
  });

  it('stops an issuer whose role the admin revoked', async () => {
    const temporary = chain.holders[6]!;
    await mined(certificate.grantRole(ISSUER_ROLE, temporary.address));
    const asTemporary = as(certificate, temporary);
    await mined(asTemporary.issue(chain.holders[0]!.address, randomDigest(), 0));
    await mined(certificate.revokeRole(ISSUER_ROLE, temporary.address));
    await expectRevert(
      certificate,
      asTemporary.issue(chain.holders[0]!.address, randomDigest(), 0),
      'AccessControlUnauthorizedAccount',
      [temporary.address, ISSUER_ROLE],
    );
  });
});

describe('issue', () => {
  it('mints to the holder with the digest as token id, emitting Transfer, Locked and CertificateIssued', async () => {
    const holder = chain.holders[1]!.address;
    const before = await certificate.balanceOf(holder);
    const expiresAt = (await latestTimestamp(chain)) + 3600;
    const { digest, tokenId, receipt } = await issue(holder, expiresAt);

    expect(await certificate.ownerOf(tokenId)).toBe(holder);
    expect(await certificate.balanceOf(holder)).toBe(before + 1n);
    const block = await chain.provider.getBlock(receipt.blockNumber);
    const record = await certificate.certificate(tokenId);
    expect(record.holder).toBe(holder);
    expect(record.issuedAt).toBe(BigInt(block!.timestamp));
    expect(record.expiresAt).toBe(BigInt(expiresAt));
    expect(record.revoked).toBe(false);
    expect(record.contentDigest).toBe(digest);
    expect(await certificate.isValid(tokenId)).toBe(true);
    expect(await certificate.locked(tokenId)).toBe(true);

    const names = receipt.logs.map((log) => certificate.interface.parseLog(log)?.name);
    expect(names).toEqual(['Transfer', 'Locked', 'CertificateIssued']);
    expect([...eventsOf(receipt, certificate, 'Transfer')[0]!.args]).toEqual([
      '0x0000000000000000000000000000000000000000',
      holder,
      tokenId,
    ]);
    expect([...eventsOf(receipt, certificate, 'Locked')[0]!.args]).toEqual([tokenId]);
    expect([...eventsOf(receipt, certificate, 'CertificateIssued')[0]!.args]).toEqual([
      tokenId,
      holder,
      chain.issuer.address,
      digest,
      BigInt(expiresAt),
    ]);
  });

  it('returns the token id to a static call', async () => {
    const digest = randomDigest();
    expect(await asIssuer.issue.staticCall(chain.holders[0]!.address, digest, 0)).toBe(BigInt(digest));
  });

  it('refuses a second certificate with the same digest, the zero holder, an empty digest and past expiries', async () => {
    const { digest, tokenId } = await issue();
    const holder = chain.holders[2]!.address;
    await expectRevert(certificate, asIssuer.issue(holder, digest, 0), 'CertificateAlreadyExists', [tokenId]);
    await expectRevert(
      certificate,
      asIssuer.issue('0x0000000000000000000000000000000000000000', randomDigest(), 0),
      'CertificateZeroHolder',
    );
    await expectRevert(
      certificate,
      asIssuer.issue(holder, `0x${'00'.repeat(32)}`, 0),
      'CertificateEmptyDigest',
    );
    const now = await latestTimestamp(chain);
    // The next block is at least one second later, so `now` is already in the past for the transaction.
    await expectRevert(certificate, asIssuer.issue(holder, randomDigest(), now), 'CertificateInvalidExpiry');
    await expectRevert(
      certificate,
      asIssuer.issue(holder, randomDigest(), 2n ** 40n),
      'CertificateInvalidExpiry',
    );
    // The largest uint40 is accepted.
    await mined(asIssuer.issue(holder, randomDigest(), 2n ** 40n - 1n));
  });

  it('never expires with expiresAt 0', async () => {
    const { tokenId } = await issue();
    await increaseTime(chain, 100 * 365 * 24 * 3600);
    expect(await certificate.isValid(tokenId)).toBe(true);
  });
});

describe('expiry, revocation, renewal', () => {
  it('expires at expiresAt', async () => {
    const expiresAt = (await latestTimestamp(chain)) + 1000;
    const { tokenId } = await issue(chain.holders[0]!.address, expiresAt);
    expect(await certificate.isValid(tokenId)).toBe(true);
    await increaseTime(chain, 998);
    expect(await certificate.isValid(tokenId)).toBe(true);
    await increaseTime(chain, 2);
    expect(await latestTimestamp(chain)).toBeGreaterThanOrEqual(expiresAt);
    expect(await certificate.isValid(tokenId)).toBe(false);
    // Expired is not revoked: the record is unchanged and the token still belongs to its holder.
    expect((await certificate.certificate(tokenId)).revoked).toBe(false);
    expect(await certificate.ownerOf(tokenId)).toBe(chain.holders[0]!.address);
  });

  it('revokes once, with CertificateRevoked and MetadataUpdate', async () => {
    const { tokenId } = await issue();
    const receipt = await mined(asIssuer.revoke(tokenId, 'evidence was forged'));
    expect([...eventsOf(receipt, certificate, 'CertificateRevoked')[0]!.args]).toEqual([
      tokenId,
      chain.issuer.address,
      'evidence was forged',
    ]);
    expect([...eventsOf(receipt, certificate, 'MetadataUpdate')[0]!.args]).toEqual([tokenId]);
    expect(await certificate.isValid(tokenId)).toBe(false);
    expect((await certificate.certificate(tokenId)).revoked).toBe(true);
    // Still held (soulbound history), still locked.
    expect(await certificate.ownerOf(tokenId)).toBe(chain.holders[0]!.address);
    expect(await certificate.locked(tokenId)).toBe(true);
    await expectRevert(certificate, asIssuer.revoke(tokenId, 'again'), 'CertificateAlreadyRevoked', [
      tokenId,
    ]);
    await expectRevert(certificate, asIssuer.renew(tokenId, 0, randomDigest()), 'CertificateAlreadyRevoked', [
      tokenId,
    ]);
  });

  it('renews an expired certificate with a new expiry and document, with CertificateRenewed and MetadataUpdate', async () => {
    const start = await latestTimestamp(chain);
    const { digest, tokenId } = await issue(chain.holders[0]!.address, start + 100);
    await increaseTime(chain, 200);
    expect(await certificate.isValid(tokenId)).toBe(false);

    const newExpiresAt = (await latestTimestamp(chain)) + 365 * 24 * 3600;
    const newDigest = randomDigest();
    const receipt = await mined(asIssuer.renew(tokenId, newExpiresAt, newDigest));
    expect([...eventsOf(receipt, certificate, 'CertificateRenewed')[0]!.args]).toEqual([
      tokenId,
      BigInt(newExpiresAt),
      newDigest,
    ]);
    expect([...eventsOf(receipt, certificate, 'MetadataUpdate')[0]!.args]).toEqual([tokenId]);
    expect(await certificate.isValid(tokenId)).toBe(true);
    const record = await certificate.certificate(tokenId);
    expect(record.expiresAt).toBe(BigInt(newExpiresAt));
    expect(record.contentDigest).toBe(newDigest);
    expect(await certificate.tokenURI(tokenId)).toBe(`ipfs://${digestToCid(newDigest)}`);

    // Back to the first document: the token id's own digest again.
    await mined(asIssuer.renew(tokenId, 0, digest));
    expect((await certificate.certificate(tokenId)).contentDigest).toBe(digest);
    expect((await certificate.certificate(tokenId)).expiresAt).toBe(0n);
  });

  it('refuses renewals of unknown tokens, with an empty digest or a past expiry', async () => {
    const { tokenId } = await issue();
    const unknown = BigInt(randomDigest());
    await expectRevert(certificate, asIssuer.renew(unknown, 0, randomDigest()), 'CertificateNotFound', [
      unknown,
    ]);
    await expectRevert(certificate, asIssuer.revoke(unknown, 'x'), 'CertificateNotFound', [unknown]);
    await expectRevert(
      certificate,
      asIssuer.renew(tokenId, 0, `0x${'00'.repeat(32)}`),
      'CertificateEmptyDigest',
    );
    await expectRevert(certificate, asIssuer.renew(tokenId, 1, randomDigest()), 'CertificateInvalidExpiry');
  });
});

describe('soulbound (ERC-5192)', () => {
  it('reverts every transfer and approval with CertificateSoulbound', async () => {
    const holder = chain.holders[3]!;
    const { tokenId } = await issue(holder.address);
    const asHolder = as(certificate, holder);
    const to = chain.holders[4]!.address;
    await expectRevert(
      certificate,
      asHolder.transferFrom(holder.address, to, tokenId),
      'CertificateSoulbound',
    );
    await expectRevert(
      certificate,
      asHolder.getFunction('safeTransferFrom(address,address,uint256)')(holder.address, to, tokenId),
      'CertificateSoulbound',
    );
    await expectRevert(
      certificate,
      asHolder.getFunction('safeTransferFrom(address,address,uint256,bytes)')(
        holder.address,
        to,
        tokenId,
        '0x',
      ),
      'CertificateSoulbound',
    );
    await expectRevert(certificate, asHolder.approve(to, tokenId), 'CertificateSoulbound');
    await expectRevert(certificate, asHolder.setApprovalForAll(to, true), 'CertificateSoulbound');
    // The ABI marks these pure, so ethers only calls them; a transaction sent anyway fails on chain too.
    const data = certificate.interface.encodeFunctionData('transferFrom', [holder.address, to, tokenId]);
    const sent = await holder.sendTransaction({
      to: await certificate.getAddress(),
      data,
      gasLimit: 100_000,
    });
    const failed = await sent.wait().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isCallException(failed) && failed.receipt?.status).toBe(0);

    expect(await certificate.ownerOf(tokenId)).toBe(holder.address);
    expect(await certificate.getApproved(tokenId)).toBe('0x0000000000000000000000000000000000000000');
    expect(await certificate.isApprovedForAll(holder.address, to)).toBe(false);
  });

  it('says locked for existing tokens and reverts for unknown ones', async () => {
    const { tokenId } = await issue();
    expect(await certificate.locked(tokenId)).toBe(true);
    const unknown = BigInt(randomDigest());
    await expectRevert(certificate, certificate.locked(unknown), 'CertificateNotFound', [unknown]);
    await expectRevert(certificate, certificate.ownerOf(unknown), 'CertificateNotFound', [unknown]);
    await expectRevert(certificate, certificate.tokenURI(unknown), 'CertificateNotFound', [unknown]);
    await expectRevert(certificate, certificate.getApproved(unknown), 'CertificateNotFound', [unknown]);
    await expectRevert(certificate, certificate.certificate(unknown), 'CertificateNotFound', [unknown]);
    expect(await certificate.isValid(unknown)).toBe(false);
    await expectRevert(
      certificate,
      certificate.balanceOf('0x0000000000000000000000000000000000000000'),
      'CertificateZeroHolder',
    );
  });
});

describe('metadata', () => {
  it('has a name and a symbol', async () => {
    expect(await certificate.name()).toBe('Symbeon Certificate');
    expect(await certificate.symbol()).toBe('SYMC');
  });

  it('derives tokenURI as ipfs://<CIDv1 raw sha2-256> exactly as multiformats writes it', async () => {
    const document = new TextEncoder().encode(JSON.stringify({ name: 'Foundations', holder: 'ada' }));
    const cid = CID.create(1, raw.code, await sha256.digest(document)).toString();
    expect(cid).toMatch(/^bafkrei[a-z2-7]{52}$/);
    const digest = await sha256Digest(document);
    expect(cidToDigest(cid)).toBe(digest);
    await mined(asIssuer.issue(chain.holders[0]!.address, digest, 0));
    expect(await certificate.tokenURI(BigInt(digest))).toBe(`ipfs://${cid}`);

    // Edge digests (every bit pattern of the final 3-bit group, leading zero bytes) and random ones.
    const digests = [
      `0x${'00'.repeat(31)}01`,
      `0x${'ff'.repeat(32)}`,
      `0x${'80'.repeat(32)}`,
      ...Array.from({ length: 5 }, randomDigest),
    ];
    for (const edge of digests) {
      const bytes = Uint8Array.from(Buffer.from(edge.slice(2), 'hex'));
      const expected = CID.create(1, raw.code, Digest.create(sha256.code, bytes)).toString();
      await mined(asIssuer.issue(chain.holders[0]!.address, edge, 0));
      expect(await certificate.tokenURI(BigInt(edge))).toBe(`ipfs://${expected}`);
    }
  });
});

describe('ERC-165', () => {
  it('supports ERC-165, ERC-721, ERC-721 Metadata, ERC-5192, ERC-4906, AccessControl and ISymbeonCertificate', async () => {
    const erc5192 = interfaceId(['locked(uint256)']);
    expect(erc5192).toBe('0xb45a3c0e');
    const erc721 = interfaceId([
      'balanceOf(address)',
      'ownerOf(uint256)',
      'safeTransferFrom(address,address,uint256,bytes)',
      'safeTransferFrom(address,address,uint256)',
      'transferFrom(address,address,uint256)',
      'approve(address,uint256)',
      'setApprovalForAll(address,bool)',
      'getApproved(uint256)',
      'isApprovedForAll(address,address)',
    ]);
    expect(erc721).toBe('0x80ac58cd');
    const metadata = interfaceId(['name()', 'symbol()', 'tokenURI(uint256)']);
    expect(metadata).toBe('0x5b5e139f');
    const accessControl = interfaceId([
      'hasRole(bytes32,address)',
      'getRoleAdmin(bytes32)',
      'grantRole(bytes32,address)',
      'revokeRole(bytes32,address)',
      'renounceRole(bytes32,address)',
    ]);
    const symbeon = interfaceId([
      'issue(address,bytes32,uint64)',
      'revoke(uint256,string)',
      'renew(uint256,uint64,bytes32)',
      'isValid(uint256)',
      'certificate(uint256)',
    ]);
    for (const supported of ['0x01ffc9a7', erc721, metadata, erc5192, '0x49064906', accessControl, symbeon]) {
      expect(await certificate.supportsInterface(supported), supported).toBe(true);
    }
    for (const unsupported of ['0xffffffff', '0x12345678', interfaceId(['totalSupply()'])]) {
      expect(await certificate.supportsInterface(unsupported), unsupported).toBe(false);
    }
  });

  it('lists in its ABI the ERC-5192 and ERC-4906 events', () => {
    const abi = new Interface(symbeonCertificateAbi);
    expect(abi.getEvent('Locked')?.format()).toBe('Locked(uint256)');
    expect(abi.getEvent('MetadataUpdate')?.format()).toBe('MetadataUpdate(uint256)');
  });
});

describe('gas', () => {
  it('issues for at most 100,000 gas, to a new holder and to one who already has a certificate', async () => {
    const fresh = `0x${randomBytes(20).toString('hex')}`;
    const first = await issue(fresh);
    const second = await issue(fresh);
    expect(first.receipt.gasUsed).toBeLessThanOrEqual(100_000n);
    expect(second.receipt.gasUsed).toBeLessThan(first.receipt.gasUsed);
    // Two fresh slots (record, balance) for a new holder: far below the naive OpenZeppelin build (~213k).
    expect(first.receipt.gasUsed).toBeGreaterThan(44_000n);
  });
});
