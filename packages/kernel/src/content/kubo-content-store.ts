import { create, type KuboRPCClient } from 'kubo-rpc-client';
import { type CID } from 'multiformats/cid';
import {
  checkMaxBytes,
  checkRange,
  ContentNotFoundError,
  ContentTooLargeError,
  DEFAULT_MEDIA_TYPE,
  KUBO_CHUNK_SIZE,
  meter,
  normalizeMediaType,
  parseContentCid,
  type ContentStat,
  type ContentStore,
} from './content-store.js';

export interface KuboContentStoreOptions {
  /** Kubo's RPC API, e.g. http://127.0.0.1:5001 (never expose it publicly: it administers the node). */
  url: string;
  /** MFS folder holding one small JSON record per file: its media type. */
  metadataRoot?: string;
}

interface Sidecar {
  mediaType: string;
}

/** Kubo's answers for content the node does not hold (asked offline, it never searches the network). */
const NOT_HELD = /not found|could not find|does not exist|no link named/i;
/**
 * Adds Kubo's global `--offline` flag, sent as a query parameter: the client passes unknown options
 * through, but its types do not list this one.
 */
function offline<T extends object>(options: T): T {
  return { ...options, offline: true };
}

const notHeld = (error: unknown) => error instanceof Error && NOT_HELD.test(error.message);

/**
 * The services profile's IPFS: Kubo through its RPC API (kubo-rpc-client).
 *
 * - add: `cid-version=1, raw-leaves=true, chunker=size-262144, pin=true`, the same CIDs as the embedded
 *   store; every file is pinned, so Kubo's garbage collector keeps it. Over `maxBytes` the upload is
 *   aborted mid-stream: no root is produced or pinned, but blocks Kubo already received stay until its
 *   next garbage collection (they are unpinned).
 * - reads (`cat`, `files/stat`, `pin/add`) are sent with `offline=true`: the store answers from what the
 *   node holds and never makes a request for an unknown CID wait on a network search (the gateway's
 *   /ipfs route would otherwise let anyone make our node fetch arbitrary content).
 * - media types: Kubo keeps none, so each add writes `{ mediaType }` to MFS at
 *   `<metadataRoot>/<cid>.json` (MFS is a garbage-collection root and is shared by every process using
 *   the node). Content that reached the node another way has none and is typed application/octet-stream:
 *   nothing is sniffed.
 */
export function createKuboContentStore(options: KuboContentStoreOptions): ContentStore {
  const client: KuboRPCClient = create({ url: options.url });
  const metadataRoot = (options.metadataRoot ?? '/symbeon-content').replace(/\/+$/, '');
  const sidecarPath = (cid: CID) => `${metadataRoot}/${cid.toString()}.json`;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new Error('content store is closed');
  };

  const readSidecar = async (cid: CID): Promise<Sidecar | undefined> => {
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of client.files.read(sidecarPath(cid))) chunks.push(chunk);
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<Sidecar>;
      return typeof parsed.mediaType === 'string'
        ? { mediaType: normalizeMediaType(parsed.mediaType) }
        : undefined;
    } catch (error) {
      if (notHeld(error) || error instanceof SyntaxError) return undefined;
      throw error;
    }
  };

  const fileSize = async (cid: CID): Promise<number | undefined> => {
    try {
      const stat = await client.files.stat(`/ipfs/${cid.toString()}`, offline({}));
      if (stat.type !== 'file') return undefined;
      return Number(stat.size);
    } catch (error) {
      if (notHeld(error)) return undefined;
      throw error;
    }
  };

  const statOf = async (cid: CID): Promise<ContentStat | undefined> => {
    const size = await fileSize(cid);
    if (size === undefined) return undefined;
    const sidecar = await readSidecar(cid);
    return { size, mediaType: sidecar?.mediaType ?? DEFAULT_MEDIA_TYPE };
  };

  return {
    async add(content, addOptions) {
      ensureOpen();
      const mediaType = normalizeMediaType(addOptions?.mediaType);
      const maxBytes = checkMaxBytes(addOptions?.maxBytes);
      const metered = meter(content, maxBytes);
      let cid: CID;
      try {
        const added = await client.add(metered.source, {
          cidVersion: 1,
          rawLeaves: true,
          chunker: `size-${KUBO_CHUNK_SIZE}`,
          hashAlg: 'sha2-256',
          pin: true,
        });
        cid = added.cid.toV1();
      } catch (error) {
        // The client aborts the upload when the source throws and reports the abort, not the cause.
        if (metered.exceeded()) throw new ContentTooLargeError(maxBytes ?? 0);
        throw error;
      }
      const { size, sha256 } = metered.result();

      const existing = await readSidecar(cid);
      // The first explicit media type wins: what was served under this CID was cached as immutable.
      const kept =
        existing && (existing.mediaType !== DEFAULT_MEDIA_TYPE || mediaType === DEFAULT_MEDIA_TYPE)
          ? existing.mediaType
          : mediaType;
      if (existing?.mediaType !== kept) {
        const record: Sidecar = { mediaType: kept };
        await client.files.write(sidecarPath(cid), new TextEncoder().encode(JSON.stringify(record)), {
          create: true,
          parents: true,
          truncate: true,
        });
      }
      return { cid: cid.toString(), size, sha256, mediaType: kept };
    },

    async get(cidText, range) {
      ensureOpen();
      const { offset, length } = checkRange(range);
      const cid = parseContentCid(cidText);
      if (!cid) return undefined;
      const size = await fileSize(cid);
      if (size === undefined) return undefined;
      const start = Math.min(offset, size);
      const count = Math.min(length ?? size - start, size - start);
      if (count === 0) return emptyContent();
      return client.cat(cid, offline({ offset: start, length: count }));
    },

    async stat(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      return cid ? statOf(cid) : undefined;
    },

    async has(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      return cid ? (await fileSize(cid)) !== undefined : false;
    },

    async pin(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      if (!cid || (await fileSize(cid)) === undefined) throw new ContentNotFoundError(cidText);
      await client.pin.add(cid, offline({}));
    },

    async close() {
      closed = true;
    },
  };
}

async function* emptyContent(): AsyncGenerator<Uint8Array> {}
