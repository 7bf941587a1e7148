import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as json from 'multiformats/codecs/json';
import { sha256, sha512 } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { cidToDigest, digestToCid, digestToTokenId, sha256Digest, tokenIdToDigest } from '../src/index.js';

const document = new TextEncoder().encode('{"programme":"Foundations","holder":"ada"}');

describe('cidToDigest / digestToCid', () => {
  it('convert between a raw CIDv1 and the sha-256 digest stored on chain', async () => {
    const hash = await sha256.digest(document);
    const cid = CID.create(1, raw.code, hash).toString();
    const digest = cidToDigest(cid);
    expect(digest).toBe(`0x${Buffer.from(hash.digest).toString('hex')}`);
    expect(digest).toBe(await sha256Digest(document));
    expect(digestToCid(digest)).toBe(cid);
    expect(digestToCid(digest.toUpperCase().replace('0X', '0x'))).toBe(cid);
  });

  it('refuse other CIDs with a message naming what is wrong', async () => {
    const hash = await sha256.digest(document);
    const dagJson = CID.create(1, json.code, hash).toString();
    expect(() => cidToDigest(dagJson)).toThrow(/codec 0x200.*raw codec \(0x55\), sha2-256 \(0x12\)/);
    const sha512Cid = CID.create(1, raw.code, await sha512.digest(document)).toString();
    expect(() => cidToDigest(sha512Cid)).toThrow(/hash 0x13/);
    // CIDv0 (dag-pb, base58btc), as `ipfs add` without --cid-version=1 prints.
    expect(() => cidToDigest('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG')).toThrow(/CIDv0/);
    expect(() => cidToDigest('not-a-cid')).toThrow('"not-a-cid" is not a CID');
  });

  it('refuse digests that are not 32 bytes of hex', () => {
    expect(() => digestToCid('0x1234')).toThrow('is not a 32-byte hex digest');
    expect(() => digestToCid(`0x${'zz'.repeat(32)}`)).toThrow('is not a 32-byte hex digest');
    expect(() => digestToCid('ab'.repeat(32))).toThrow('is not a 32-byte hex digest');
  });
});

describe('token ids', () => {
  it('are the digest read as a uint256, and back, zero-padded', () => {
    const digest = `0x00${'ab'.repeat(31)}`;
    const tokenId = digestToTokenId(digest);
    expect(tokenId).toBe(BigInt(digest));
    expect(tokenIdToDigest(tokenId)).toBe(digest);
    expect(tokenIdToDigest(1n)).toBe(`0x${'0'.repeat(63)}1`);
    expect(() => tokenIdToDigest(-1n)).toThrow('is not a uint256');
    expect(() => tokenIdToDigest(1n << 256n)).toThrow('is not a uint256');
    expect(() => digestToTokenId('0x12')).toThrow('is not a 32-byte hex digest');
  });
});
