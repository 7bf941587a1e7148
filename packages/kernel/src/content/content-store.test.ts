import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base32 } from 'multiformats/bases/base32';
import { afterAll, describe, expect, it } from 'vitest';
import { createContentStore } from '../adapters.js';
import { contentStoreContract, expectedCid, patternBytes, readAll } from './content-store.contract.js';
import { ContentTooLargeError, KUBO_CHUNK_SIZE, rawLeafCid, type ContentStore } from './content-store.js';
import { createEmbeddedContentStore } from './embedded-content-store.js';
import { createKuboContentStore } from './kubo-content-store.js';
import { startKuboRpcStandIn, type KuboRpcStandIn } from './kubo-rpc-stand-in.js';

const folders: string[] = [];
async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'symbeon-content-'));
  folders.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

contentStoreContract('embedded', async () => createEmbeddedContentStore({ directory: await tempDir() }));

// The real kubo-rpc-client over real HTTP, against a stand-in for Kubo's RPC API backed by an embedded store.
contentStoreContract('kubo (RPC stand-in)', async () => {
  const backend = await createEmbeddedContentStore({ directory: await tempDir() });
  const standIn = await startKuboRpcStandIn(backend);
  const store = createKuboContentStore({ url: standIn.url });
  const wrapped: ContentStore = {
    ...store,
    async close() {
      await store.close();
      await standIn.close();
      await backend.close();
    },
  };
  return wrapped;
});

describe('embedded content store', () => {
  it('keeps blocks across reopening, one file per block, and no staging left behind', async () => {
    const directory = await tempDir();
    const bytes = patternBytes(2 * KUBO_CHUNK_SIZE + 7, 21);
    const first = await createEmbeddedContentStore({ directory });
    const { cid } = await first.add(bytes, { mediaType: 'image/png' });
    await first.close();
    await expect(first.stat(cid)).rejects.toThrow(/closed/);

    const reopened = await createEmbeddedContentStore({ directory });
    expect(await reopened.stat(cid)).toEqual({ size: bytes.length, mediaType: 'image/png' });
    expect((await readAll(await reopened.get(cid))).equals(bytes)).toBe(true);
    // Three leaves and the root.
    expect(await listFiles(path.join(directory, 'blocks'))).toHaveLength(4);
    expect(await listFiles(path.join(directory, 'staging'))).toEqual([]);
    await reopened.close();
  });

  it('removes staging folders abandoned by a crash (over an hour old) when it opens', async () => {
    const directory = await tempDir();
    await (await createEmbeddedContentStore({ directory })).close();
    const abandoned = path.join(directory, 'staging', 'crashed');
    const recent = path.join(directory, 'staging', 'in-progress');
    await mkdir(abandoned);
    await mkdir(recent);
    await writeFile(path.join(abandoned, 'half-block'), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(abandoned, twoHoursAgo, twoHoursAgo);
    await (await createEmbeddedContentStore({ directory })).close();
    expect(await readdir(path.join(directory, 'staging'))).toEqual(['in-progress']);
  });

  it('a refused add leaves no block, no record and no staging', async () => {
    const directory = await tempDir();
    const store = await createEmbeddedContentStore({ directory });
    const bytes = patternBytes(3 * KUBO_CHUNK_SIZE, 22);
    await expect(store.add(bytes, { maxBytes: 2 * KUBO_CHUNK_SIZE })).rejects.toThrow(ContentTooLargeError);
    expect(await listFiles(directory)).toEqual([]);
    const firstLeaf = (await rawLeafCid(bytes.subarray(0, KUBO_CHUNK_SIZE))).toString();
    expect(await store.has(firstLeaf)).toBe(false);
    await store.close();
  });

  it('serves a block of a larger file by its own CID, typed application/octet-stream', async () => {
    const store = await createEmbeddedContentStore({ directory: await tempDir() });
    const bytes = patternBytes(KUBO_CHUNK_SIZE + 3, 23);
    await store.add(bytes, { mediaType: 'application/pdf' });
    const leaf = (await rawLeafCid(bytes.subarray(0, KUBO_CHUNK_SIZE))).toString();
    expect(await store.stat(leaf)).toEqual({ size: KUBO_CHUNK_SIZE, mediaType: 'application/octet-stream' });
    await store.pin(leaf);
    await store.close();
  });

  it('refuses to serve a block whose bytes on disk no longer match its CID', async () => {
    const directory = await tempDir();
    const store = await createEmbeddedContentStore({ directory });
    const { cid } = await store.add(new TextEncoder().encode('original'));
    const [block] = await listFiles(path.join(directory, 'blocks'));
    expect(path.basename(block!)).toBe(
      base32.baseEncode((await rawLeafCid(new TextEncoder().encode('original'))).multihash.bytes),
    );
    await writeFile(block!, 'tampered');
    await expect(store.get(cid).then(readAll)).rejects.toThrow(/corrupt/);
    await store.close();
  });
});

describe('Kubo adapter', () => {
  let standIn: KuboRpcStandIn | undefined;
  afterAll(async () => {
    await standIn?.close();
  });

  it('adds with CIDv1, raw leaves, 256 KiB chunks and pinning, reads offline, keeps media types in MFS', async () => {
    const backend = await createEmbeddedContentStore({ directory: await tempDir() });
    standIn = await startKuboRpcStandIn(backend);
    const store = createKuboContentStore({ url: standIn.url, metadataRoot: '/app-content/' });
    const bytes = patternBytes(KUBO_CHUNK_SIZE + 99, 31);
    const { cid } = await store.add(bytes, { mediaType: 'application/pdf' });
    expect(cid).toBe(await expectedCid(bytes));
    expect(standIn.pins.has(cid)).toBe(true);
    expect(
      (await readAll(await store.get(cid, { offset: 5, length: 10 }))).equals(bytes.subarray(5, 15)),
    ).toBe(true);

    const add = standIn.calls.find((call) => call.path === 'add');
    expect(Object.fromEntries(add!.params)).toMatchObject({
      'cid-version': '1',
      'raw-leaves': 'true',
      chunker: 'size-262144',
      hash: 'sha2-256',
      pin: 'true',
    });
    const write = standIn.calls.find((call) => call.path === 'files/write');
    expect(write!.params.get('arg')).toBe(`/app-content/${cid}.json`);
    for (const call of standIn.calls.filter((c) => ['cat', 'files/stat'].includes(c.path))) {
      expect(call.params.get('offline')).toBe('true');
    }
    const cat = standIn.calls.find((call) => call.path === 'cat');
    expect(cat!.params.get('offset')).toBe('5');
    expect(cat!.params.get('length')).toBe('10');
    await store.close();
  });

  it('reports an unreachable Kubo as an error, not as unknown content', async () => {
    const store = createKuboContentStore({ url: 'http://127.0.0.1:9' });
    const cid = (await rawLeafCid(new Uint8Array([1]))).toString();
    await expect(store.stat(cid)).rejects.toThrow();
    await expect(store.add(new Uint8Array([1]))).rejects.toThrow();
    await store.close();
  });
});

describe('createContentStore', () => {
  it('is embedded under DATA_DIR/ipfs without IPFS_API_URL, Kubo with it', async () => {
    const dataDir = await tempDir();
    const embedded = await createContentStore({ DATA_DIR: dataDir });
    const { cid } = await embedded.add(new TextEncoder().encode('x'));
    expect(await listFiles(path.join(dataDir, 'ipfs', 'blocks'))).toHaveLength(1);
    await embedded.close();

    const backend = await createEmbeddedContentStore({ directory: await tempDir() });
    const rpc = await startKuboRpcStandIn(backend);
    const kubo = await createContentStore({ DATA_DIR: dataDir, IPFS_API_URL: rpc.url });
    expect(await kubo.has(cid)).toBe(false);
    await kubo.add(new TextEncoder().encode('x'));
    expect(await kubo.has(cid)).toBe(true);
    expect(rpc.calls.some((call) => call.path === 'add')).toBe(true);
    await kubo.close();
    await rpc.close();
    await backend.close();
  });
});
