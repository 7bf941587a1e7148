import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ReadableStorage } from 'ipfs-unixfs-exporter';
import type { WritableStorage } from 'ipfs-unixfs-importer';
import { base32 } from 'multiformats/bases/base32';
import type { CID } from 'multiformats/cid';
import {
  checkMaxBytes,
  checkRange,
  ContentNotFoundError,
  DEFAULT_MEDIA_TYPE,
  meter,
  normalizeMediaType,
  parseContentCid,
  type ContentStat,
  type ContentStore,
} from './content-store.js';

export interface EmbeddedContentStoreOptions {
  /** The store's folder, `DATA_DIR/ipfs` in the embedded profile. */
  directory: string;
}

/** What is remembered per root CID beside its blocks. */
interface RootRecord {
  size: number;
  sha256: string;
  mediaType: string;
  /** Nothing is ever collected here; kept so a later garbage collector knows what to keep. */
  pinned: boolean;
}

const isNotFound = (error: unknown) =>
  error instanceof Error && 'code' in error && (error as NodeJS.ErrnoException).code === 'ENOENT';

/** Writes a file so that readers see either nothing or all of it: temp file in the same folder + rename. */
async function writeAtomically(file: string, data: Uint8Array | string) {
  const temporary = `${file}.${randomUUID()}.tmp`;
  await writeFile(temporary, data);
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * The embedded profile's IPFS: blocks on the filesystem, CIDs computed by the UnixFS importer with Kubo's
 * `--cid-version=1 --raw-leaves` settings, files read back with the UnixFS exporter.
 *
 * Layout under `directory`:
 *   blocks/<xx>/<multihash in base32>  one file per block, keyed by multihash like Kubo's flatfs (a raw
 *                                      and a dag-pb CID of the same bytes share a block); xx = two
 *                                      characters near the end, so folders fill evenly
 *   roots/<cid>.json                   size, SHA-256, media type and pin flag of each file added
 *   staging/<uuid>/                    blocks of an add in progress
 *
 * An add writes its blocks into its own staging folder and moves them into blocks/ (rename: atomic) only
 * once the whole content was read within `maxBytes`, children before parents, then writes the root record.
 * A refused or failed add deletes its staging folder, so it leaves nothing; a crash mid-commit can leave
 * complete blocks without a root record (never half a block, never a root without its children).
 * Concurrent adds of the same content, in this process or another sharing the folder, are harmless:
 * blocks are immutable and renames replace a block with identical bytes.
 */
export async function createEmbeddedContentStore(
  options: EmbeddedContentStoreOptions,
): Promise<ContentStore> {
  const blocksDir = path.join(options.directory, 'blocks');
  const rootsDir = path.join(options.directory, 'roots');
  const stagingDir = path.join(options.directory, 'staging');
  await Promise.all([blocksDir, rootsDir, stagingDir].map((dir) => mkdir(dir, { recursive: true })));
  await removeAbandonedStaging(stagingDir);
  let closed = false;

  const keyOf = (cid: CID) => base32.baseEncode(cid.multihash.bytes);
  const blockPath = (key: string) => path.join(blocksDir, key.slice(-3, -1), key);
  const rootPath = (cid: CID) => path.join(rootsDir, `${cid.toString()}.json`);

  const ensureOpen = () => {
    if (closed) throw new Error('content store is closed');
  };

  const readBlock = async (cid: CID): Promise<Uint8Array> => {
    const bytes = await readFile(blockPath(keyOf(cid)));
    // Disk corruption must not be served under a CID that promises other bytes.
    const digest = createHash('sha256').update(bytes).digest();
    if (!Buffer.from(cid.multihash.digest).equals(digest))
      throw new Error(`block ${cid.toString()} is corrupt on disk`);
    return bytes;
  };

  const reader: ReadableStorage = {
    async *get(cid: CID) {
      yield await readBlock(cid);
    },
  };

  const hasBlock = async (cid: CID) => {
    try {
      await stat(blockPath(keyOf(cid)));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  };

  const readRecord = async (cid: CID): Promise<RootRecord | undefined> => {
    try {
      return JSON.parse(await readFile(rootPath(cid), 'utf8')) as RootRecord;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  /** The file at `cid` as the exporter sees it; undefined when unknown or not a file (e.g. a directory). */
  const fileEntry = async (cid: CID) => {
    if (!(await hasBlock(cid))) return undefined;
    // Loaded on first read (and the importer on first add): they are not needed to start a service.
    const { exporter } = await import('ipfs-unixfs-exporter');
    const entry = await exporter(cid, reader);
    return entry.type === 'file' || entry.type === 'raw' ? entry : undefined;
  };

  const statOf = async (cid: CID): Promise<ContentStat | undefined> => {
    const record = await readRecord(cid);
    if (record && (await hasBlock(cid))) return { size: record.size, mediaType: record.mediaType };
    // A block added by someone else's DAG (e.g. one chunk of a larger file): served, type unknown.
    const entry = await fileEntry(cid);
    return entry ? { size: Number(entry.size), mediaType: DEFAULT_MEDIA_TYPE } : undefined;
  };

  return {
    async add(content, addOptions) {
      ensureOpen();
      const mediaType = normalizeMediaType(addOptions?.mediaType);
      const metered = meter(content, checkMaxBytes(addOptions?.maxBytes));
      const staging = path.join(stagingDir, randomUUID());
      await mkdir(staging);
      try {
        // Blocks in the order the importer wrote them: every child before its parent.
        const staged: string[] = [];
        const seen = new Set<string>();
        const writer: WritableStorage = {
          async put(cid: CID, block: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>) {
            const key = keyOf(cid);
            if (seen.has(key)) return cid;
            seen.add(key);
            const bytes = block instanceof Uint8Array ? block : await collect(block);
            await writeFile(path.join(staging, key), bytes);
            staged.push(key);
            return cid;
          },
        };
        const root = await (await import('./kubo-import.js')).importFile(metered.source, writer);
        const { size, sha256 } = metered.result();

        for (const key of staged) {
          const target = blockPath(key);
          await mkdir(path.dirname(target), { recursive: true });
          await rename(path.join(staging, key), target);
        }

        const existing = await readRecord(root);
        // The first explicit media type wins: what was served under this CID was cached as immutable.
        const kept =
          existing && (existing.mediaType !== DEFAULT_MEDIA_TYPE || mediaType === DEFAULT_MEDIA_TYPE)
            ? existing.mediaType
            : mediaType;
        if (!existing || existing.mediaType !== kept) {
          const record: RootRecord = { size, sha256, mediaType: kept, pinned: existing?.pinned ?? false };
          await writeAtomically(rootPath(root), JSON.stringify(record));
        }
        return { cid: root.toString(), size, sha256, mediaType: kept };
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },

    async get(cidText, range) {
      ensureOpen();
      const { offset, length } = checkRange(range);
      const cid = parseContentCid(cidText);
      if (!cid) return undefined;
      const entry = await fileEntry(cid);
      if (!entry) return undefined;
      const size = Number(entry.size);
      const start = Math.min(offset, size);
      const count = Math.min(length ?? size - start, size - start);
      if (count === 0) return emptyContent();
      return entry.content({ offset: start, length: count });
    },

    async stat(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      return cid ? statOf(cid) : undefined;
    },

    async has(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      return cid ? (await statOf(cid)) !== undefined : false;
    },

    async pin(cidText) {
      ensureOpen();
      const cid = parseContentCid(cidText);
      const found = cid ? await statOf(cid) : undefined;
      if (!cid || !found) throw new ContentNotFoundError(cidText);
      const record = await readRecord(cid);
      if (record?.pinned) return;
      const entry = await fileEntry(cid);
      const next: RootRecord = record
        ? { ...record, pinned: true }
        : {
            size: found.size,
            sha256: entry ? await sha256Of(entry.content()) : '',
            mediaType: found.mediaType,
            pinned: true,
          };
      await writeAtomically(rootPath(cid), JSON.stringify(next));
    },

    async close() {
      closed = true;
    },
  };
}

/**
 * Staging folders left by a crash. Only old ones: another process sharing the folder may be adding now.
 */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;
async function removeAbandonedStaging(stagingDir: string) {
  for (const name of await readdir(stagingDir)) {
    const folder = path.join(stagingDir, name);
    // Another process may finish (and delete) its folder meanwhile.
    const mtimeMs = await stat(folder).then(
      (found) => found.mtimeMs,
      (error: unknown) => {
        if (isNotFound(error)) return Date.now();
        throw error;
      },
    );
    if (Date.now() - mtimeMs > ABANDONED_AFTER_MS) await rm(folder, { recursive: true, force: true });
  }
}

async function collect(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source) hash.update(chunk);
  return hash.digest('hex');
}

async function* emptyContent(): AsyncGenerator<Uint8Array> {}
