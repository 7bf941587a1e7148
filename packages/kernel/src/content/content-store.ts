import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { z } from 'zod';
import { DomainError } from '../errors.js';

/**
 * Content-addressed storage of immutable files (IPFS). The embedded profile keeps blocks under
 * `DATA_DIR/ipfs/`; the services profile talks to Kubo's RPC API. Both produce exactly the CIDs of
 * `ipfs add --cid-version=1 --raw-leaves` (Kubo's defaults otherwise), so a CID computed here is the one
 * any IPFS node or gateway serves for the same bytes.
 */
export interface ContentStore {
  /**
   * Stores a file and returns its CID (v1, base32). Over `maxBytes` it rejects with ContentTooLargeError
   * and no root is stored (see each adapter for blocks a refused upload may leave behind).
   */
  add(content: ContentSource, options?: AddContentOptions): Promise<StoredContent>;
  /** The file's bytes (the whole file, or `length` bytes from `offset`); undefined when unknown. */
  get(cid: string, options?: ContentRange): Promise<AsyncIterable<Uint8Array> | undefined>;
  stat(cid: string): Promise<ContentStat | undefined>;
  has(cid: string): Promise<boolean>;
  /** Keeps the content from garbage collection; rejects with ContentNotFoundError when unknown. */
  pin(cid: string): Promise<void>;
  close(): Promise<void>;
}

export type ContentSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface AddContentOptions {
  /** `type/subtype` (parameters allowed); default application/octet-stream. */
  mediaType?: string;
  /** Largest accepted file in bytes. */
  maxBytes?: number;
}

export interface StoredContent {
  /** CIDv1 in base32, e.g. `bafkrei…` for a file of one block, `bafybei…` for larger ones. */
  cid: string;
  size: number;
  /** SHA-256 of the whole file, hex (not the multihash of the root block). */
  sha256: string;
  mediaType: string;
}

export interface ContentStat {
  size: number;
  mediaType: string;
}

export interface ContentRange {
  offset?: number;
  length?: number;
}

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

/** `ipfs add --cid-version=1 --raw-leaves`: Kubo's fixed-size chunker and balanced layout. */
export const KUBO_CHUNK_SIZE = 262_144;
export const KUBO_MAX_CHILDREN_PER_NODE = 174;

export class InvalidCidError extends DomainError {
  constructor(value: string) {
    const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
    super('INVALID_CID', `"${shown}" is not a valid CID`);
    this.name = 'InvalidCidError';
  }
}

export class ContentTooLargeError extends DomainError {
  constructor(readonly maxBytes: number) {
    super('CONTENT_TOO_LARGE', `Content is larger than the limit of ${maxBytes} bytes; nothing was stored`);
    this.name = 'ContentTooLargeError';
  }
}

export class InvalidMediaTypeError extends DomainError {
  constructor(value: string) {
    super('INVALID_MEDIA_TYPE', `"${value.slice(0, 100)}" is not a media type (expected type/subtype)`);
    this.name = 'InvalidMediaTypeError';
  }
}

export class ContentNotFoundError extends DomainError {
  constructor(cid: string) {
    super('NOT_FOUND', `No content with CID ${cid}`);
    this.name = 'ContentNotFoundError';
  }
}

const RAW_CODE = raw.code;
const DAG_PB_CODE = 0x70;
const SHA2_256_CODE = sha256.code;
/** Longest CID string accepted: a CIDv1 with a 64-byte digest in base16 is about 140 characters. */
const MAX_CID_LENGTH = 200;

/**
 * Parses a CID from outside. Malformed strings throw InvalidCidError. A well-formed CID that cannot name
 * a file either store holds (a codec other than raw / dag-pb, a hash other than sha2-256, e.g. identity
 * CIDs that carry their data inline) gives undefined: callers answer "unknown".
 */
export function parseContentCid(value: string): CID | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CID_LENGTH) {
    throw new InvalidCidError(String(value));
  }
  let cid: CID;
  try {
    cid = CID.parse(value);
  } catch {
    throw new InvalidCidError(value);
  }
  if (cid.code !== RAW_CODE && cid.code !== DAG_PB_CODE) return undefined;
  if (cid.multihash.code !== SHA2_256_CODE) return undefined;
  return cid.toV1();
}

// RFC 9110 token characters; parameters (e.g. `; charset=utf-8`) are kept, line breaks never.
const MEDIA_TYPE =
  /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"\r\n]*"|[a-z0-9!#$&^_.+-]+))*$/i;

/** Validates and lower-cases the type/subtype (it becomes a response header on the gateway). */
export function normalizeMediaType(value: string | undefined): string {
  if (value === undefined) return DEFAULT_MEDIA_TYPE;
  const trimmed = value.trim();
  if (trimmed.length > 200 || !MEDIA_TYPE.test(trimmed)) throw new InvalidMediaTypeError(value);
  const [essence, ...parameters] = trimmed.split(';');
  return [essence!.trim().toLowerCase(), ...parameters.map((parameter) => parameter.trim())].join('; ');
}

export function checkMaxBytes(maxBytes: number | undefined): number | undefined {
  if (maxBytes === undefined) return undefined;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  return maxBytes;
}

/** Validates a byte range request: non-negative integers. */
export function checkRange(range: ContentRange | undefined): { offset: number; length?: number } {
  const offset = range?.offset ?? 0;
  const length = range?.length;
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0))
    throw new RangeError(`length must be a non-negative integer, got ${length}`);
  return length === undefined ? { offset } : { offset, length };
}

async function* iterate(content: ContentSource): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield content;
    return;
  }
  for await (const chunk of content) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError('content chunks must be Uint8Array');
    yield chunk;
  }
}

/**
 * Streams the content through while counting it and hashing it with SHA-256; throws ContentTooLargeError
 * as soon as more than `maxBytes` have passed, so whatever consumes the stream stops storing.
 */
export function meter(content: ContentSource, maxBytes: number | undefined) {
  const hash = createHash('sha256');
  let size = 0;
  let done = false;
  let exceeded = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    for await (const chunk of iterate(content)) {
      size += chunk.byteLength;
      if (maxBytes !== undefined && size > maxBytes) {
        exceeded = true;
        throw new ContentTooLargeError(maxBytes);
      }
      hash.update(chunk);
      if (chunk.byteLength > 0) yield chunk;
    }
    done = true;
  }
  return {
    source: source(),
    /** True once the content went over `maxBytes`. */
    exceeded: () => exceeded,
    /** Once the source is exhausted: the byte count and hex SHA-256. */
    result(): { size: number; sha256: string } {
      if (!done) throw new Error('content was not read to the end');
      return { size, sha256: hash.digest('hex') };
    },
  };
}

/** The CID of a file of at most one chunk: the raw block itself (what Kubo gives with --raw-leaves). */
export async function rawLeafCid(bytes: Uint8Array): Promise<CID> {
  return CID.create(1, RAW_CODE, await sha256.digest(bytes));
}

/**
 * The variables choosing the content store, for the env.ts of each service that uses one (with DATA_DIR
 * from commonEnvShape): Kubo's RPC API when IPFS_API_URL is set, else the embedded store in DATA_DIR/ipfs.
 */
export const contentStoreEnvShape = {
  /** Kubo's RPC API (services profile), e.g. http://ipfs:5001. Unset: the embedded store. */
  IPFS_API_URL: z.url().optional(),
};
