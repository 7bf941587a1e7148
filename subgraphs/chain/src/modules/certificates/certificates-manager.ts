import { digestToCid } from '@symbeon/contracts';
import { codedError, ErrorCode, type Logger } from '@symbeon/kernel';
import { getAddress, isAddress } from 'ethers';
import type { Indexer } from '../indexer/indexer.js';
import type { CertificateEventRow, CertificateRow, IndexerStorage } from '../indexer/indexer-storage.js';
import type { ChainRegistry } from '../registry/chain-registry.js';
import type { CertificateFeed } from './certificate-feed.js';

export type CertificateEventType = CertificateEventRow['type'];

export interface CertificateEventFilter {
  holder?: string | null;
  tokenId?: string | null;
  types?: CertificateEventType[] | null;
}

/** What the subscription yields: the row plus the head it was seen at (for confirmations). */
export interface CertificateEventView {
  cursor: string;
  type: CertificateEventType;
  tokenId: string;
  holder: { address: string };
  blockNumber: number;
  txHash: string;
  confirmations: number;
  occurredAt: Date;
}

const CURSOR_PREFIX = 'ce:';
/** Rows read per query while replaying or catching up. */
const PAGE = 200;

export function encodeEventCursor(seq: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString('base64url');
}

/** The sequence number in a cursor, or a BAD_USER_INPUT GraphQL error. */
export function decodeEventCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^ce:(\d{1,15})$/.exec(text);
  if (!match || Buffer.from(text).toString('base64url') !== cursor) {
    throw codedError(ErrorCode.BAD_USER_INPUT, 'after is not a cursor of certificateEvents', {
      field: 'after',
    });
  }
  return Number(match[1]);
}

function validFilter(filter: CertificateEventFilter | null | undefined) {
  const holder = filter?.holder?.trim();
  if (holder && !isAddress(holder)) {
    throw codedError(ErrorCode.BAD_USER_INPUT, 'filter.holder is not an Ethereum address', {
      field: 'filter.holder',
    });
  }
  const tokenId = filter?.tokenId?.trim();
  if (tokenId && !/^\d{1,78}$/.test(tokenId)) {
    throw codedError(ErrorCode.BAD_USER_INPUT, 'filter.tokenId is not a decimal token id', {
      field: 'filter.tokenId',
    });
  }
  const types = filter?.types?.length ? new Set(filter.types) : undefined;
  const normalisedToken = tokenId ? BigInt(tokenId).toString() : undefined;
  const checksummed = holder ? getAddress(holder) : undefined;
  return (row: CertificateEventRow) =>
    (!checksummed || row.holder === checksummed) &&
    (!normalisedToken || row.tokenId === normalisedToken) &&
    (!types || types.has(row.type));
}

export function createCertificatesManager(deps: {
  registry: ChainRegistry;
  storage: IndexerStorage;
  indexer: Indexer;
  feed: CertificateFeed;
  confirmations: number;
  logger: Logger;
}) {
  const { registry, storage, indexer, feed } = deps;

  const confirmationsAt = (blockNumber: number, head: number) => Math.max(0, head - blockNumber + 1);

  function view(row: CertificateEventRow, head: number): CertificateEventView {
    return {
      cursor: encodeEventCursor(row.seq),
      type: row.type,
      tokenId: row.tokenId,
      holder: { address: row.holder },
      blockNumber: row.blockNumber,
      txHash: row.txHash,
      confirmations: confirmationsAt(row.blockNumber, head),
      occurredAt: row.occurredAt,
    };
  }

  /**
   * Replay then live, without gap or duplicate: the wake listener is registered before anything is read,
   * then every pass reads certificate_events after the last cursor emitted. Sequence order is commit order
   * (the indexer writes under one row lock), so "after the last cursor" misses nothing and repeats nothing.
   * `return()` ends it at once, even while waiting, so a client's unsubscribe frees everything.
   */
  function subscribe(args: {
    filter?: CertificateEventFilter | null;
    after?: string | null;
  }): AsyncIterableIterator<{ certificateEvents: CertificateEventView }> {
    const matches = validFilter(args.filter);
    const afterSeq = args.after ? decodeEventCursor(args.after) : undefined;
    const queue: CertificateEventView[] = [];
    let waiting: ((result: IteratorResult<{ certificateEvents: CertificateEventView }>) => void) | undefined;
    let failed: ((error: unknown) => void) | undefined;
    let failure: unknown;
    let closed = false;
    let last: number | undefined;
    let dirty = true;
    let pumping = false;

    const deliver = () => {
      if (!waiting) return;
      if (failure !== undefined) {
        const reject = failed!;
        waiting = failed = undefined;
        reject(failure);
        return;
      }
      const next = queue.shift();
      if (next) {
        const resolve = waiting;
        waiting = failed = undefined;
        resolve({ value: { certificateEvents: next }, done: false });
      }
    };

    const pump = async () => {
      if (pumping || closed || last === undefined) return;
      pumping = true;
      try {
        while (dirty && !closed) {
          dirty = false;
          const rows = await storage.eventsAfter(last, PAGE);
          if (rows.length === 0) break;
          const head = await indexer.head().catch(() => rows.at(-1)!.blockNumber);
          for (const row of rows) if (matches(row)) queue.push(view(row, head));
          last = rows.at(-1)!.seq;
          if (rows.length === PAGE) dirty = true;
          deliver();
        }
      } catch (error) {
        failure = error;
        deliver();
      } finally {
        pumping = false;
      }
      if (dirty && !closed) void pump();
    };

    const unsubscribe = feed.onWake(() => {
      dirty = true;
      void pump();
    });
    void (async () => {
      try {
        last = afterSeq ?? (await storage.lastEventSeq());
        dirty = true;
        await pump();
      } catch (error) {
        failure = error;
        deliver();
      }
    })();

    const finish = (): Promise<IteratorResult<{ certificateEvents: CertificateEventView }>> => {
      closed = true;
      unsubscribe();
      queue.length = 0;
      if (waiting) {
        const resolve = waiting;
        waiting = failed = undefined;
        resolve({ value: undefined, done: true });
      }
      return Promise.resolve({ value: undefined, done: true });
    };

    return {
      next() {
        if (closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiting = resolve;
          failed = reject;
          deliver();
        });
      },
      return: finish,
      throw(error: unknown) {
        void finish();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    subscribe,

    async chainStatus() {
      const [head, checkpoint] = await Promise.all([
        registry.provider.getBlockNumber(),
        storage.checkpoint(registry.chainId),
      ]);
      return {
        chainId: registry.chainId,
        headBlock: head,
        indexedBlock: checkpoint?.blockNumber ?? Math.max(registry.certificate.deployedAt - 1, 0),
        certificateContract: registry.certificate.address,
        anchorContract: registry.anchor.address,
        confirmations: deps.confirmations,
      };
    },

    /** The public view of an indexed certificate. */
    async present(row: CertificateRow) {
      const head = await indexer.head();
      return {
        tokenId: row.tokenId,
        holder: { address: row.holder },
        locked: true,
        revoked: row.revoked,
        expiresAt: row.expiresAt,
        contentCid: digestToCid(row.contentDigest),
        issuer: { address: row.issuer },
        issuedAtBlock: row.issuedBlock,
        confirmations: confirmationsAt(row.issuedBlock, head),
        valid: !row.revoked && (row.expiresAt === null || row.expiresAt.getTime() > Date.now()),
      };
    },

    /** A token id as the read model keys it, or undefined when the text is not one. */
    normaliseTokenId(tokenId: string): string | undefined {
      const trimmed = tokenId.trim();
      return /^\d{1,78}$/.test(trimmed) ? BigInt(trimmed).toString() : undefined;
    },
  };
}

export type CertificatesManager = ReturnType<typeof createCertificatesManager>;
