import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import { sha256 } from 'multiformats/hashes/sha2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ContentNotFoundError,
  ContentTooLargeError,
  InvalidCidError,
  InvalidMediaTypeError,
  KUBO_CHUNK_SIZE,
  rawLeafCid,
  type ContentStore,
} from './content-store.js';
import { importFile } from './kubo-import.js';

/** Deterministic bytes that differ from block to block (so no two leaves share a CID). */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export async function readAll(source: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  if (!source) throw new Error('no content');
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The root CID the importer computes for `bytes`, without storing anything. */
export async function expectedCid(bytes: Uint8Array): Promise<string> {
  const cid = await importFile(
    (async function* () {
      yield bytes;
    })(),
    { put: async (key) => key },
  );
  return cid.toString();
}

async function* inPieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

const hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The behaviour every ContentStore adapter must share. `make` returns a fresh, empty store per test; the
 * suite closes it afterwards.
 */
export function contentStoreContract(name: string, make: () => Promise<ContentStore>): void {
  describe(`ContentStore contract: ${name}`, () => {
    let store: ContentStore;

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      await store?.close();
    });

    it('round-trips a small file as one raw block, with its size, SHA-256 and media type', async () => {
      const bytes = new TextEncoder().encode('hello world\n');
      const stored = await store.add(bytes, { mediaType: 'text/plain; charset=utf-8' });
      expect(stored).toEqual({
        cid: (await rawLeafCid(bytes)).toString(),
        size: bytes.length,
        sha256: hex(bytes),
        mediaType: 'text/plain; charset=utf-8',
      });
      expect(stored.cid.startsWith('bafkrei')).toBe(true);
      expect(await readAll(await store.get(stored.cid))).toEqual(Buffer.from(bytes));
      expect(await store.stat(stored.cid)).toEqual({
        size: bytes.length,
        mediaType: 'text/plain; charset=utf-8',
      });
      expect(await store.has(stored.cid)).toBe(true);
    });

    it('stores the empty file under the CID Kubo gives it', async () => {
      const stored = await store.add(new Uint8Array(0));
      expect(stored.cid).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
      expect(stored.size).toBe(0);
      expect(stored.mediaType).toBe('application/octet-stream');
      expect(await readAll(await store.get(stored.cid))).toHaveLength(0);
      expect(await store.stat(stored.cid)).toEqual({ size: 0, mediaType: 'application/octet-stream' });
    });

    it('round-trips a multi-block file, streamed in pieces that do not match the chunks', async () => {
      const bytes = patternBytes(4 * KUBO_CHUNK_SIZE + 12_345, 7);
      const stored = await store.add(inPieces(bytes, 100_000), { mediaType: 'application/pdf' });
      expect(stored.cid).toBe(await expectedCid(bytes));
      expect(stored.cid.startsWith('bafybei')).toBe(true);
      expect(stored.size).toBe(bytes.length);
      expect(stored.sha256).toBe(hex(bytes));
      expect((await readAll(await store.get(stored.cid))).equals(bytes)).toBe(true);
      expect(await store.stat(stored.cid)).toEqual({ size: bytes.length, mediaType: 'application/pdf' });
    });

    it('gives the same CID for the same content added twice, however it arrives', async () => {
      const bytes = patternBytes(KUBO_CHUNK_SIZE + 1, 3);
      const first = await store.add(bytes);
      const second = await store.add(inPieces(bytes, 4096));
      const third = await store.add([bytes.subarray(0, 10), bytes.subarray(10)]);
      expect(second.cid).toBe(first.cid);
      expect(third.cid).toBe(first.cid);
      expect((await readAll(await store.get(first.cid))).equals(bytes)).toBe(true);
    });

    it('keeps the first explicit media type of a CID', async () => {
      const bytes = new TextEncoder().encode('{"a":1}');
      expect((await store.add(bytes)).mediaType).toBe('application/octet-stream');
      expect((await store.add(bytes, { mediaType: 'Application/JSON' })).mediaType).toBe('application/json');
      const again = await store.add(bytes, { mediaType: 'text/plain' });
      expect(again.mediaType).toBe('application/json');
      expect((await store.stat(again.cid))?.mediaType).toBe('application/json');
    });

    it('refuses a media type that is not type/subtype', async () => {
      for (const mediaType of ['text', 'text/html\r\nx-evil: 1', '', 'a/b; c']) {
        await expect(store.add(new Uint8Array([1]), { mediaType })).rejects.toThrow(InvalidMediaTypeError);
      }
    });

    it('reads byte ranges, within a block and across blocks, clamped to the end', async () => {
      const bytes = patternBytes(3 * KUBO_CHUNK_SIZE, 11);
      const { cid } = await store.add(bytes);
      const range = async (offset: number, length?: number) =>
        readAll(await store.get(cid, length === undefined ? { offset } : { offset, length }));
      expect((await range(10, 20)).equals(bytes.subarray(10, 30))).toBe(true);
      const across = KUBO_CHUNK_SIZE - 100;
      expect((await range(across, 300)).equals(bytes.subarray(across, across + 300))).toBe(true);
      expect((await range(2 * KUBO_CHUNK_SIZE + 5)).equals(bytes.subarray(2 * KUBO_CHUNK_SIZE + 5))).toBe(
        true,
      );
      expect((await range(bytes.length - 3, 100)).equals(bytes.subarray(bytes.length - 3))).toBe(true);
      expect(await range(bytes.length + 10, 5)).toHaveLength(0);
      expect(await range(0, 0)).toHaveLength(0);
      await expect(store.get(cid, { offset: -1 })).rejects.toThrow(RangeError);

      const small = await store.add(new TextEncoder().encode('0123456789'));
      expect((await readAll(await store.get(small.cid, { offset: 3, length: 4 }))).toString()).toBe('3456');
    });

    it('answers undefined for a CID it does not hold, and refuses to pin it', async () => {
      const unknown = (await rawLeafCid(new TextEncoder().encode('never stored'))).toString();
      expect(await store.get(unknown)).toBeUndefined();
      expect(await store.stat(unknown)).toBeUndefined();
      expect(await store.has(unknown)).toBe(false);
      await expect(store.pin(unknown)).rejects.toThrow(ContentNotFoundError);
      // Well-formed but not a file this store could hold: a dag-cbor CID, an identity-hash CID.
      const some = new TextEncoder().encode('hello');
      const dagCbor = CID.create(1, 0x71, await sha256.digest(some)).toString();
      const identityCid = CID.create(1, raw.code, identity.digest(some)).toString();
      for (const cid of [dagCbor, identityCid]) {
        expect(await store.get(cid)).toBeUndefined();
        expect(await store.has(cid)).toBe(false);
      }
    });

    it('accepts the CIDv0 form of a stored dag-pb root', async () => {
      const bytes = patternBytes(KUBO_CHUNK_SIZE + 10, 5);
      const { cid } = await store.add(bytes);
      const v0 = CID.parse(cid).toV0().toString();
      expect(v0.startsWith('Qm')).toBe(true);
      expect((await readAll(await store.get(v0))).equals(bytes)).toBe(true);
    });

    it('rejects malformed CIDs with a clear error', async () => {
      for (const bad of ['', 'not-a-cid', 'bafy', 'Qm123', '../../etc/passwd', 'b'.repeat(500)]) {
        await expect(store.get(bad)).rejects.toThrow(InvalidCidError);
        await expect(store.stat(bad)).rejects.toThrow(InvalidCidError);
        await expect(store.has(bad)).rejects.toThrow(InvalidCidError);
        await expect(store.pin(bad)).rejects.toThrow(InvalidCidError);
      }
      await expect(store.get('not-a-cid')).rejects.toThrow(/"not-a-cid" is not a valid CID/);
    });

    it('refuses content over maxBytes and stores nothing of it', async () => {
      const bytes = patternBytes(2 * KUBO_CHUNK_SIZE + 50, 13);
      const cid = await expectedCid(bytes);
      await expect(store.add(inPieces(bytes, 65_536), { maxBytes: bytes.length - 1 })).rejects.toThrow(
        ContentTooLargeError,
      );
      await expect(store.add(bytes, { maxBytes: 1000 })).rejects.toThrow(/limit of 1000 bytes/);
      expect(await store.has(cid)).toBe(false);
      expect(await store.stat(cid)).toBeUndefined();

      const exact = await store.add(bytes, { maxBytes: bytes.length });
      expect(exact.cid).toBe(cid);
    });

    it('pins content it holds', async () => {
      const { cid } = await store.add(new TextEncoder().encode('keep me'));
      await store.pin(cid);
      await store.pin(cid);
      expect(await store.has(cid)).toBe(true);
    });
  });
}
