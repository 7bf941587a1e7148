import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';

/** A 32-byte value as 0x-prefixed lower-case hex, the way ethers and the ABI write bytes32. */
export type Bytes32Hex = `0x${string}`;

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The sha-256 digest inside a CIDv1 with the raw codec (what `ipfs add --cid-version=1 --raw-leaves` gives a
 * single-block file): the value certificates and batch manifests are stored on-chain as.
 */
export function cidToDigest(cid: string): Bytes32Hex {
  let parsed: CID;
  try {
    parsed = CID.parse(cid);
  } catch (error) {
    throw new Error(`"${cid}" is not a CID: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (parsed.version !== 1 || parsed.code !== raw.code || parsed.multihash.code !== sha256.code) {
    throw new Error(
      `"${cid}" is a CIDv${parsed.version} with codec 0x${parsed.code.toString(16)} and hash ` +
        `0x${parsed.multihash.code.toString(16)}; on-chain digests are CIDv1, raw codec (0x55), sha2-256 (0x12)`,
    );
  }
  return `0x${Buffer.from(parsed.multihash.digest).toString('hex')}`;
}

/** The CIDv1 (raw codec, sha2-256, base32 `b...`) of a 32-byte sha-256 digest; `tokenURI` is `ipfs://` + it. */
export function digestToCid(digest: string): string {
  if (!BYTES32.test(digest)) throw new Error(`"${digest}" is not a 32-byte hex digest (0x + 64 hex digits)`);
  const bytes = Uint8Array.from(Buffer.from(digest.slice(2), 'hex'));
  return CID.create(1, raw.code, Digest.create(sha256.code, bytes)).toString();
}

/** A certificate's token id is the digest of its first metadata document, read as a uint256. */
export function digestToTokenId(digest: string): bigint {
  if (!BYTES32.test(digest)) throw new Error(`"${digest}" is not a 32-byte hex digest (0x + 64 hex digits)`);
  return BigInt(digest);
}

/** The digest a token id stands for (32 bytes, zero-padded). */
export function tokenIdToDigest(tokenId: bigint): Bytes32Hex {
  if (tokenId < 0n || tokenId >= 1n << 256n) throw new Error(`token id ${tokenId} is not a uint256`);
  return `0x${tokenId.toString(16).padStart(64, '0')}`;
}

/** sha-256 of a document, as the digest its raw CIDv1 carries. */
export async function sha256Digest(bytes: Uint8Array): Promise<Bytes32Hex> {
  const hash = await sha256.digest(bytes);
  return `0x${Buffer.from(hash.digest).toString('hex')}`;
}
