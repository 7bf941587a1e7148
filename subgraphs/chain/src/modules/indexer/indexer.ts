import { digestToCid } from '@symbeon/contracts';
import type { Logger } from '@symbeon/kernel';
import type { Log } from 'ethers';
import type { ChainRegistry } from '../registry/chain-registry.js';
import type { Checkpoint, IndexedLog, IndexerStorage } from './indexer-storage.js';

export interface IndexerOptions {
  registry: ChainRegistry;
  storage: IndexerStorage;
  logger: Logger;
  /** Blocks per eth_getLogs. */
  blockRange: number;
  /** Only blocks at most head - confirmations are processed. */
  confirmations: number;
  pollIntervalMs: number;
  /** Called after a range with certificate events (or a rollback) has committed. */
  onCommitted?: () => void;
}

export interface IndexerStatus {
  headBlock: number | null;
  indexedBlock: number | null;
}

export interface Indexer {
  /**
   * One pass: reorg check, then ranges until caught up (or `maxRanges` ranges). Resolves with the ranges
   * committed.
   */
  sync(maxRanges?: number): Promise<number>;
  status(): IndexerStatus;
  /** The node's head as last seen (fetched when never seen). */
  head(): Promise<number>;
  /** Resolves once the indexed block is at least `blockNumber`. */
  waitFor(blockNumber: number, timeoutMs?: number): Promise<void>;
  /** Starts polling (sync every pollIntervalMs). */
  start(): void;
  stop(): Promise<void>;
}

/** How far back the reorg search reads stored block hashes at a time. */
const ANCESTOR_PAGE = 64;

function decodedArgs(
  fragment: { inputs: ReadonlyArray<{ name: string }> },
  values: readonly unknown[],
): Record<string, string> {
  const args: Record<string, string> = {};
  fragment.inputs.forEach((input, index) => {
    const value = values[index];
    args[input.name] = typeof value === 'bigint' ? value.toString() : String(value);
  });
  return args;
}

/**
 * Follows SymbeonCertificate, CertificateAnchor and PaymentReceiver from their deployment block by polling eth_getLogs in
 * block ranges. Each range is committed in one database transaction with the new checkpoint; before each
 * pass the checkpoint's block hash is compared with the node's, and on a mismatch the index is rolled back
 * to the newest stored block the node still has (the common ancestor) and replayed from there.
 */
export function createIndexer(options: IndexerOptions): Indexer {
  const { registry, storage, logger } = options;
  const { provider, chainId } = registry;
  // PaymentReceiver is followed when the deployment has one (its PaymentReceived and TokenAllowedSet logs).
  const followed = [registry.certificate, registry.anchor, ...(registry.payments ? [registry.payments] : [])];
  const addresses = followed.map((contract) => contract.address);
  const byAddress = new Map(followed.map((contract) => [contract.address.toLowerCase(), contract.iface]));
  const startBlock = Math.min(...followed.map((contract) => contract.deployedAt));
  const state: IndexerStatus = { headBlock: null, indexedBlock: null };
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const waiters = new Set<() => void>();

  async function blockHash(number: number): Promise<string | undefined> {
    const block = await provider.getBlock(number);
    return block?.hash ?? undefined;
  }

  async function ensureCheckpoint(): Promise<Checkpoint> {
    const existing = await storage.checkpoint(chainId);
    if (existing) return existing;
    const number = Math.max(startBlock - 1, 0);
    const hash = await blockHash(number);
    if (!hash) throw new Error(`chain ${chainId} has no block ${number} (the deployment's parent block)`);
    await storage.initCheckpoint(chainId, { blockNumber: number, blockHash: hash });
    return (await storage.checkpoint(chainId))!;
  }

  /** Newest stored block whose hash the node still has. */
  async function commonAncestor(from: Checkpoint): Promise<Checkpoint> {
    let below = from.blockNumber;
    for (;;) {
      const stored = await storage.storedBlocks(chainId, below, ANCESTOR_PAGE);
      if (stored.length === 0) break;
      for (const block of stored) {
        if ((await blockHash(block.blockNumber)) === block.blockHash) {
          return { blockNumber: block.blockNumber, blockHash: block.blockHash };
        }
      }
      below = stored.at(-1)!.blockNumber - 1;
    }
    const number = Math.max(startBlock - 1, 0);
    const hash = await blockHash(number);
    if (!hash) throw new Error(`chain ${chainId} lost block ${number}, below the deployment`);
    return { blockNumber: number, blockHash: hash };
  }

  function decode(log: Log, timestamps: Map<string, Date>): IndexedLog | undefined {
    const iface = byAddress.get(log.address.toLowerCase());
    const parsed = iface?.parseLog({ topics: [...log.topics], data: log.data });
    if (!parsed) return undefined;
    return {
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
      txHash: log.transactionHash,
      logIndex: log.index,
      address: log.address,
      eventName: parsed.name,
      args: decodedArgs(parsed.fragment, parsed.args),
      blockTimestamp: timestamps.get(log.blockHash)!,
    };
  }

  /** One range after `checkpoint`; false when there was nothing to do or the node changed under us. */
  async function indexRange(checkpoint: Checkpoint, safe: number): Promise<boolean> {
    const from = checkpoint.blockNumber + 1;
    if (from > safe) return false;
    const to = Math.min(safe, from + options.blockRange - 1);
    const toHash = await blockHash(to);
    if (!toHash) return false;
    const logs = await provider.getLogs({ address: addresses, fromBlock: from, toBlock: to });
    const blockHashes = [...new Set(logs.map((log) => log.blockHash))];
    const headers = await Promise.all(blockHashes.map((hash) => provider.getBlock(hash)));
    // A header the node no longer has, or a range end that changed: a reorg happened while we read.
    if (headers.some((header) => !header) || (await blockHash(to)) !== toHash) return false;
    const timestamps = new Map(headers.map((header) => [header!.hash!, new Date(header!.timestamp * 1000)]));
    const decoded = logs
      .map((log) => decode(log, timestamps))
      .filter((log): log is IndexedLog => log !== undefined)
      .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    const committed = await storage.commitRange({
      chainId,
      certificateContract: registry.certificate.address,
      expected: checkpoint,
      to: { blockNumber: to, blockHash: toHash },
      blocks: headers.map((header) => ({
        blockNumber: header!.number,
        blockHash: header!.hash!,
        timestamp: new Date(header!.timestamp * 1000),
      })),
      logs: decoded,
      toCid: digestToCid,
    });
    if (!committed) return false;
    state.indexedBlock = to;
    if (committed.certificateEvents > 0) options.onCommitted?.();
    logger.debug({ from, to, logs: decoded.length }, 'indexed block range');
    return true;
  }

  async function pass(maxRanges: number): Promise<number> {
    let ranges = 0;
    for (;;) {
      if (stopped || ranges >= maxRanges) break;
      const head = await provider.getBlockNumber();
      state.headBlock = head;
      const checkpoint = await ensureCheckpoint();
      state.indexedBlock = checkpoint.blockNumber;
      const nodeHash = await blockHash(checkpoint.blockNumber);
      if (nodeHash !== checkpoint.blockHash) {
        const ancestor = await commonAncestor(checkpoint);
        const removed = await storage.rollbackTo(chainId, checkpoint, ancestor);
        if (removed !== undefined) {
          logger.warn(
            { from: checkpoint.blockNumber, to: ancestor.blockNumber, removedEvents: removed },
            'chain reorganisation: rolled the index back to the common ancestor',
          );
          state.indexedBlock = ancestor.blockNumber;
          if (removed > 0) options.onCommitted?.();
        }
        continue;
      }
      const safe = head - options.confirmations;
      if (!(await indexRange(checkpoint, safe))) break;
      ranges += 1;
      for (const wake of waiters) wake();
    }
    for (const wake of waiters) wake();
    return ranges;
  }

  function sync(maxRanges = Number.POSITIVE_INFINITY): Promise<number> {
    running ??= pass(maxRanges).finally(() => {
      running = undefined;
    });
    return running;
  }

  const loop = async () => {
    if (stopped) return;
    try {
      await sync();
    } catch (error) {
      logger.error({ err: error }, 'indexer pass failed; retrying');
    }
    if (!stopped) timer = setTimeout(() => void loop(), options.pollIntervalMs);
  };

  return {
    sync,
    status: () => ({ ...state }),
    async head() {
      if (state.headBlock !== null) return state.headBlock;
      state.headBlock = await provider.getBlockNumber();
      return state.headBlock;
    },
    async waitFor(blockNumber, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while ((state.indexedBlock ?? -1) < blockNumber) {
        if (Date.now() > deadline) throw new Error(`indexer did not reach block ${blockNumber} in time`);
        await sync();
        if ((state.indexedBlock ?? -1) >= blockNumber) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    start() {
      stopped = false;
      timer = setTimeout(() => void loop(), 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
