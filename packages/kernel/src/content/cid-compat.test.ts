import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { expectedCid, patternBytes } from './content-store.contract.js';
import { KUBO_CHUNK_SIZE, KUBO_MAX_CHILDREN_PER_NODE } from './content-store.js';

/**
 * Evidence that the store's CIDs are Kubo's (`ipfs add --cid-version=1 --raw-leaves`), without a Kubo:
 * published values where they exist, and otherwise the DAG Kubo's balanced builder makes, built here by
 * hand (raw sha256 leaves of 256 KiB, dag-pb nodes of at most 174 links carrying UnixFS `file` data with
 * the blocksizes of their children, Tsize = encoded size of the subtree) and compared with the importer's.
 */

interface Built {
  cid: CID;
  /** Bytes of file content below this node. */
  fileSize: number;
  /** Encoded bytes of the subtree: dag-pb's Tsize. */
  treeSize: number;
}

async function leaf(chunk: Uint8Array): Promise<Built> {
  return {
    cid: CID.create(1, raw.code, await sha256.digest(chunk)),
    fileSize: chunk.length,
    treeSize: chunk.length,
  };
}

async function parent(children: Built[]): Promise<Built> {
  const data = new UnixFS({ type: 'file', blockSizes: children.map((child) => BigInt(child.fileSize)) });
  const block = dagPb.encode({
    Data: data.marshal(),
    Links: children.map((child) => ({ Name: '', Tsize: child.treeSize, Hash: child.cid })),
  });
  return {
    cid: CID.create(1, dagPb.code, await sha256.digest(block)),
    fileSize: children.reduce((sum, child) => sum + child.fileSize, 0),
    treeSize: block.length + children.reduce((sum, child) => sum + child.treeSize, 0),
  };
}

/** Kubo's balanced layout: group the level in runs of 174 under new parents until one node is left. */
async function handBuiltRoot(bytes: Uint8Array): Promise<string> {
  if (bytes.length <= KUBO_CHUNK_SIZE) return (await leaf(bytes)).cid.toString();
  let level: Built[] = [];
  for (let offset = 0; offset < bytes.length; offset += KUBO_CHUNK_SIZE)
    level.push(await leaf(bytes.subarray(offset, offset + KUBO_CHUNK_SIZE)));
  do {
    const next: Built[] = [];
    for (let i = 0; i < level.length; i += KUBO_MAX_CHILDREN_PER_NODE)
      next.push(await parent(level.slice(i, i + KUBO_MAX_CHILDREN_PER_NODE)));
    level = next;
  } while (level.length > 1);
  return level[0]!.cid.toString();
}

describe('CIDs are those of ipfs add --cid-version=1 --raw-leaves', () => {
  it('matches published CIDs', async () => {
    // The empty file (Kubo, and every IPFS implementation with raw leaves and CIDv1).
    expect(await expectedCid(new Uint8Array(0))).toBe(
      'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
    );
  });

  it('a file of one chunk is its raw leaf: CIDv1, raw codec, sha2-256 of the bytes', async () => {
    for (const bytes of [
      new TextEncoder().encode('hello world\n'),
      new TextEncoder().encode('hello'),
      patternBytes(KUBO_CHUNK_SIZE, 2),
    ]) {
      const independent = CID.create(1, raw.code, await sha256.digest(bytes)).toString();
      expect(await expectedCid(bytes)).toBe(independent);
      expect(independent.startsWith('bafkrei')).toBe(true);
    }
  });

  it('files over one chunk: the importer root equals the hand-built balanced DAG', async () => {
    for (const size of [KUBO_CHUNK_SIZE + 1, 1024 * 1024, 5 * KUBO_CHUNK_SIZE + 777]) {
      const bytes = patternBytes(size, size);
      const root = await expectedCid(bytes);
      expect(root).toBe(await handBuiltRoot(bytes));
      expect(root.startsWith('bafybei')).toBe(true);
    }
  });

  it('more than 174 chunks gives a second level, as Kubo does', async () => {
    // 175 chunks: a root over a full node of 174 leaves and a node holding the last leaf.
    const bytes = patternBytes(KUBO_MAX_CHILDREN_PER_NODE * KUBO_CHUNK_SIZE + 1_000, 9);
    const root = await expectedCid(bytes);
    expect(root).toBe(await handBuiltRoot(bytes));
    // A flat node of 175 links (what a wrong fan-out would give) has another CID.
    const leaves = [];
    for (let offset = 0; offset < bytes.length; offset += KUBO_CHUNK_SIZE)
      leaves.push(await leaf(bytes.subarray(offset, offset + KUBO_CHUNK_SIZE)));
    expect(root).not.toBe((await parent(leaves)).cid.toString());
  }, 60_000);
});
