import { importer, type ImporterOptions, type WritableStorage } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';
import { KUBO_CHUNK_SIZE, KUBO_MAX_CHILDREN_PER_NODE } from './content-store.js';

/**
 * The importer settings that reproduce `ipfs add --cid-version=1 --raw-leaves` on a Kubo with default
 * Import.* configuration: 256 KiB fixed-size chunks, balanced DAG with at most 174 links per node, raw
 * leaves, CIDv1, links before data in dag-pb nodes, and a file of one chunk is that raw leaf itself.
 * Spelled out rather than left to the importer's defaults, which have changed between major versions
 * (the `unixfs-v1-2025` profile uses 1 MiB chunks and 1,024 links, which Kubo does not by default).
 */
export function kuboImporterOptions(): ImporterOptions {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: KUBO_CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: KUBO_MAX_CHILDREN_PER_NODE }),
    fieldOrder: 'links-first',
    wrapWithDirectory: false,
  };
}

/** Imports one file's bytes into `blockstore` and returns the root CID, as Kubo would compute it. */
export async function importFile(
  content: AsyncIterable<Uint8Array>,
  blockstore: WritableStorage,
): Promise<CID> {
  let root: CID | undefined;
  // No path: a bare file, never wrapped in a directory.
  for await (const entry of importer([{ content }], blockstore, kuboImporterOptions())) root = entry.cid;
  if (!root) throw new Error('the importer produced no root');
  return root;
}
