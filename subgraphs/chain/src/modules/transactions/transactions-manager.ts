import { cidToDigest } from '@symbeon/contracts';
import {
  decodeCursor,
  DomainError,
  ErrorCode,
  pageSize,
  parseInput,
  toConnection,
  type Logger,
} from '@symbeon/kernel';
import { getAddress, isAddress, isError, Transaction, Wallet, type Interface } from 'ethers';
import { z } from 'zod';
import type { ChainRegistry } from '../registry/chain-registry.js';
import {
  type AttemptRow,
  type TransactionRow,
  type TransactionsStorage,
  type TransactionStatus,
} from './transactions-storage.js';

export interface TransactionsManagerOptions {
  registry: ChainRegistry;
  storage: TransactionsStorage;
  logger: Logger;
  /** Never logged. */
  signerKey: string;
  gasLimitCap: number;
  maxFeeGwei: number;
  replaceAfterSeconds: number;
  pollIntervalMs: number;
  /** Sends a signed transaction; the default is eth_sendRawTransaction on the registry's node. */
  broadcast?: (rawTransaction: string) => Promise<void>;
}

const GWEI = 1_000_000_000n;
const UINT256_MAX = (1n << 256n) - 1n;
/** A replacement raises both fees by 15 %, or less when CHAIN_MAX_FEE_GWEI leaves less room... */
const BUMP_PER_MILLE = 150n;
/**
 * ...but never by less than 12.5 %: nodes refuse a replacement that pays too little more as "underpriced"
 * (geth below 10 % on either fee by default, anvil when maxFeePerGas is not higher); this keeps a margin.
 */
const MIN_BUMP_PER_MILLE = 125n;
/** value × (1 + perMille / 1000), rounded up. */
const raise = (value: bigint, perMille: bigint) => (value * (1000n + perMille) + 999n) / 1000n;

const idempotencyKey = z.string().trim().min(1, 'is required').max(200, 'is at most 200 characters');
const address = z
  .string()
  .trim()
  .refine((value) => isAddress(value), 'is not an Ethereum address')
  .transform((value) => getAddress(value))
  .refine((value) => value !== '0x0000000000000000000000000000000000000000', 'cannot be the zero address');
const cid = z
  .string()
  .trim()
  .transform((value, context) => {
    try {
      return cidToDigest(value);
    } catch {
      context.addIssue({ code: 'custom', message: 'is not a CIDv1 (raw codec, sha2-256)' });
      return z.NEVER;
    }
  });
const tokenId = z
  .string()
  .trim()
  .regex(/^\d{1,78}$/, 'is not a decimal token id')
  .refine((value) => BigInt(value) <= UINT256_MAX, 'is not a uint256')
  .transform((value) => BigInt(value).toString());
/** Unix seconds; null or absent: never expires. */
const futureExpiry = z
  .union([z.date(), z.iso.datetime({ offset: true })])
  .nullish()
  .transform((value, context) => {
    if (value === null || value === undefined) return 0n;
    const date = typeof value === 'string' ? new Date(value) : value;
    if (Number.isNaN(date.getTime()) || date.getTime() <= Date.now()) {
      context.addIssue({ code: 'custom', message: 'must be in the future' });
      return z.NEVER;
    }
    return BigInt(Math.floor(date.getTime() / 1000));
  });
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'is not 32 bytes of hex');

export const issueInput = z.object({
  holder: address,
  contentCid: cid,
  expiresAt: futureExpiry,
  idempotencyKey,
});
export const revokeInput = z.object({
  tokenId,
  reason: z.string().trim().max(500, 'is at most 500 characters').default(''),
  idempotencyKey,
});
export const renewInput = z.object({ tokenId, expiresAt: futureExpiry, contentCid: cid, idempotencyKey });
export const anchorBatchInput = z.object({
  merkleRoot: bytes32,
  size: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32 - 1),
  metadataCid: cid,
  idempotencyKey,
});

export type IssueCommand = z.input<typeof issueInput>;
export type RevokeCommand = z.input<typeof revokeInput>;
export type RenewCommand = z.input<typeof renewInput>;
export type AnchorBatchCommand = z.input<typeof anchorBatchInput>;
/** One certificate of an anchored batch: the batch id (its Merkle root as uint256) and the leaf's hash. */
export const revokeInBatchInput = z.object({
  batchId: tokenId,
  leaf: bytes32.transform((value) => value.toLowerCase()),
  reason: z.string().trim().max(500, 'is at most 500 characters').default(''),
  idempotencyKey,
});
export type RevokeInBatchCommand = z.input<typeof revokeInBatchInput>;

/** A contract call any caller (GraphQL, an event consumer) can request. */
export type ChainCommand =
  | ({ kind: 'issue' } & IssueCommand)
  | ({ kind: 'revoke' } & RevokeCommand)
  | ({ kind: 'renew' } & RenewCommand)
  | ({ kind: 'anchorBatch' } & AnchorBatchCommand)
  | ({ kind: 'revokeInBatch' } & RevokeInBatchCommand);

interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** The custom error a revert carries, decoded against our ABIs (`CertificateAlreadyExists(42)`). */
export function revertReason(error: unknown, interfaces: Interface[]): string | undefined {
  if (!isError(error, 'CALL_EXCEPTION')) return undefined;
  const data = error.data;
  if (data && data !== '0x') {
    for (const iface of interfaces) {
      const parsed = iface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map((arg: unknown) => String(arg)).join(', ')})`;
    }
  }
  return error.reason ?? 'reverted';
}

export function createTransactionsManager(options: TransactionsManagerOptions) {
  const { registry, storage, logger } = options;
  const { provider, chainId } = registry;
  const wallet = new Wallet(options.signerKey);
  const from = wallet.address;
  const interfaces = [registry.certificate.iface, registry.anchor.iface];
  const maxFeeCap = BigInt(Math.round(options.maxFeeGwei * 1e9));
  const broadcast =
    options.broadcast ??
    (async (raw: string) => {
      await provider.broadcastTransaction(raw);
    });
  /** Transactions whose replacement CHAIN_MAX_FEE_GWEI forbids: warned about once per process. */
  const cappedWarned = new Set<string>();
  let reconciled: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = true;

  function encode(command: ChainCommand): { to: string; data: string; stored: Record<string, string> } {
    switch (command.kind) {
      case 'issue': {
        const input = parseInput(issueInput, command);
        return {
          to: registry.certificate.address,
          data: registry.certificate.iface.encodeFunctionData('issue', [
            input.holder,
            input.contentCid,
            input.expiresAt,
          ]),
          stored: {
            holder: input.holder,
            contentDigest: input.contentCid,
            expiresAt: String(input.expiresAt),
          },
        };
      }
      case 'revoke': {
        const input = parseInput(revokeInput, command);
        return {
          to: registry.certificate.address,
          data: registry.certificate.iface.encodeFunctionData('revoke', [input.tokenId, input.reason]),
          stored: { tokenId: input.tokenId, reason: input.reason },
        };
      }
      case 'renew': {
        const input = parseInput(renewInput, command);
        return {
          to: registry.certificate.address,
          data: registry.certificate.iface.encodeFunctionData('renew', [
            input.tokenId,
            input.expiresAt,
            input.contentCid,
          ]),
          stored: {
            tokenId: input.tokenId,
            expiresAt: String(input.expiresAt),
            contentDigest: input.contentCid,
          },
        };
      }
      case 'anchorBatch': {
        const input = parseInput(anchorBatchInput, command);
        return {
          to: registry.anchor.address,
          data: registry.anchor.iface.encodeFunctionData('anchorBatch', [
            input.merkleRoot,
            input.size,
            input.metadataCid,
          ]),
          stored: {
            merkleRoot: input.merkleRoot,
            size: String(input.size),
            metadataDigest: input.metadataCid,
          },
        };
      }
      case 'revokeInBatch': {
        const input = parseInput(revokeInBatchInput, command);
        return {
          to: registry.anchor.address,
          data: registry.anchor.iface.encodeFunctionData('revokeInBatch', [
            input.batchId,
            input.leaf,
            input.reason,
          ]),
          stored: { batchId: input.batchId, leaf: input.leaf, reason: input.reason },
        };
      }
    }
  }

  async function currentFees(): Promise<Fees> {
    const data = await provider.getFeeData();
    const priority = data.maxPriorityFeePerGas ?? GWEI;
    let maxFee = data.maxFeePerGas ?? (data.gasPrice ?? GWEI) * 2n;
    if (maxFee > maxFeeCap) maxFee = maxFeeCap;
    return { maxFeePerGas: maxFee, maxPriorityFeePerGas: priority > maxFee ? maxFee : priority };
  }

  async function sign(
    row: TransactionRow,
    nonce: number,
    fees: Fees,
  ): Promise<{ raw: string; hash: string }> {
    const raw = await wallet.signTransaction({
      type: 2,
      chainId,
      nonce,
      to: row.toAddress,
      data: row.data,
      value: 0n,
      gasLimit: BigInt(row.gasLimit!),
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return { raw, hash: Transaction.from(raw).hash! };
  }

  async function send(row: TransactionRow, raw: string): Promise<void> {
    try {
      await broadcast(raw);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Known or already mined: the receipt loop settles it. Anything else: retried on the next tick.
      // (geth says "already known", anvil "transaction already imported".)
      if (
        !/already known|already imported|known transaction|nonce too low|nonce has already been used/i.test(
          message,
        )
      ) {
        logger.warn({ transactionId: row.id, hash: row.hash, err: message }, 'broadcast failed; will retry');
        return;
      }
    }
    if (row.status === 'PENDING')
      await storage.update(row.id, { status: 'SUBMITTED', submittedAt: new Date() });
  }

  /** Brings the signer's nonce in line with the node and re-sends what was persisted but not mined. */
  async function recover(): Promise<void> {
    const pending = await provider.getTransactionCount(from, 'pending');
    await storage.reconcileSigner(chainId, from, pending);
    for (const row of await storage.open(chainId, from)) {
      if (row.rawTransaction) await send(row, row.rawTransaction);
    }
  }

  function ensureReconciled(): Promise<void> {
    reconciled ??= recover().catch((error: unknown) => {
      reconciled = undefined;
      throw error;
    });
    return reconciled;
  }

  function sameCommand(row: TransactionRow, kind: string, stored: Record<string, string>) {
    // jsonb does not keep key order: compare key by key.
    const before = row.command as Record<string, unknown>;
    const same =
      Object.keys(before).length === Object.keys(stored).length &&
      Object.entries(stored).every(([key, value]) => before[key] === value);
    if (row.kind !== kind || !same) {
      throw new DomainError(
        ErrorCode.CONFLICT,
        'idempotencyKey was already used for a different command',
        'input.idempotencyKey',
      );
    }
    return row;
  }

  /**
   * FAILED with no nonce: refused before anything was signed or sent (the call would revert, gas above the
   * cap). Nothing about it happened on chain, so the same key may try again once the cause is gone. A
   * transaction that was sent keeps its outcome (FAILED on chain, MINED, REPLACED) for good.
   */
  const refusedBeforeSending = (row: TransactionRow) => row.status === 'FAILED' && row.nonce === null;

  /**
   * Sends a contract call once per idempotency key. Bad input throws a DomainError and sends nothing; a
   * call that would revert is recorded as FAILED with the decoded error and sends nothing either — and the
   * same command under the same key is evaluated again (same row) until it is sent.
   */
  async function submit(command: ChainCommand): Promise<TransactionRow> {
    const { to, data, stored } = encode(command);
    const key = command.idempotencyKey.trim();
    const existing = await storage.findByKey(key);
    if (existing) {
      sameCommand(existing, command.kind, stored);
      if (!refusedBeforeSending(existing)) return existing;
    }
    await ensureReconciled();

    let refusal: string | undefined;
    let gasLimit: bigint | undefined;
    let fees: Fees | undefined;
    try {
      const estimate = await provider.estimateGas({ from, to, data });
      if (estimate > BigInt(options.gasLimitCap)) {
        refusal = `GasLimitCapExceeded(estimated ${estimate}, cap ${options.gasLimitCap})`;
      } else {
        const padded = (estimate * 12n) / 10n;
        gasLimit = padded > BigInt(options.gasLimitCap) ? BigInt(options.gasLimitCap) : padded;
        fees = await currentFees();
      }
    } catch (error) {
      refusal = revertReason(error, interfaces);
      if (!refusal) throw error;
    }

    const base = {
      idempotencyKey: key,
      kind: command.kind,
      command: stored,
      chainId,
      fromAddress: from,
      toAddress: to,
      data,
    };
    let signed: { raw: string; hash: string } | undefined;
    const { row, created } = await storage.underSignerLock(chainId, from, async (tx, nonce) => {
      const again = await storage.findByKeyIn(tx, key);
      if (again && !refusedBeforeSending(again)) return { existing: again };
      const retryOf = again ? sameCommand(again, command.kind, stored).id : undefined;
      if (refusal || !gasLimit || !fees) {
        return {
          insert: { ...base, status: 'FAILED' as const, error: refusal ?? 'not sent', nonce: null },
          retryOf,
        };
      }
      // Signed locally while the nonce is held; persisted (raw + hash) before anything is broadcast.
      const draft = { ...base, gasLimit: Number(gasLimit) } as TransactionRow;
      signed = await sign(draft, nonce, fees);
      return {
        insert: {
          ...base,
          status: 'PENDING' as const,
          nonce,
          gasLimit: Number(gasLimit),
          hash: signed.hash,
          rawTransaction: signed.raw,
          maxFeePerGas: fees.maxFeePerGas.toString(),
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
        },
        attempt: {
          hash: signed.hash,
          rawTransaction: signed.raw,
          maxFeePerGas: fees.maxFeePerGas.toString(),
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
        },
        retryOf,
      };
    });
    if (!created) return sameCommand(row, command.kind, stored);
    if (signed) await send(row, signed.raw);
    return (await storage.findByIds([row.id]))[0]!;
  }

  async function settle(row: TransactionRow, attempts: AttemptRow[], latestNonce: number): Promise<void> {
    for (const attempt of attempts) {
      const receipt = await provider.getTransactionReceipt(attempt.hash);
      if (!receipt) continue;
      if (receipt.status === 1) {
        await storage.update(row.id, {
          status: 'MINED',
          minedHash: attempt.hash,
          blockNumber: receipt.blockNumber,
        });
      } else {
        let reason = 'reverted';
        try {
          await provider.call({ from, to: row.toAddress, data: row.data, blockTag: receipt.blockNumber });
        } catch (error) {
          reason = revertReason(error, interfaces) ?? reason;
        }
        await storage.update(row.id, {
          status: 'FAILED',
          minedHash: attempt.hash,
          blockNumber: receipt.blockNumber,
          error: reason,
        });
      }
      return;
    }
    if (row.nonce === null) return;
    if (latestNonce > row.nonce) {
      // Mined nonce, none of our hashes: another transaction of this key took it (sent outside Symbeon).
      await storage.update(row.id, {
        status: 'REPLACED',
        error: `nonce ${row.nonce} was used by another transaction`,
      });
      return;
    }
    const age = Date.now() - (row.submittedAt ?? row.createdAt).getTime();
    if (row.status === 'SUBMITTED' && age > options.replaceAfterSeconds * 1000) await replace(row);
  }

  /**
   * Re-sends a stuck transaction with the same nonce and both fees 15 % higher (or the market's, if higher),
   * at most CHAIN_MAX_FEE_GWEI; when the cap leaves less than the 12.5 % nodes require, nothing is sent.
   */
  async function replace(row: TransactionRow): Promise<void> {
    const previous = {
      maxFee: BigInt(row.maxFeePerGas ?? '0'),
      priority: BigInt(row.maxPriorityFeePerGas ?? '0'),
    };
    const market = await currentFees();
    let maxFee = raise(previous.maxFee, BUMP_PER_MILLE);
    let priority = raise(previous.priority, BUMP_PER_MILLE);
    if (market.maxFeePerGas > maxFee) maxFee = market.maxFeePerGas;
    if (market.maxPriorityFeePerGas > priority) priority = market.maxPriorityFeePerGas;
    if (maxFee > maxFeeCap) maxFee = maxFeeCap;
    if (priority > maxFee) priority = maxFee;
    if (
      maxFee < raise(previous.maxFee, MIN_BUMP_PER_MILLE) ||
      priority < raise(previous.priority, MIN_BUMP_PER_MILLE)
    ) {
      if (!cappedWarned.has(row.id)) {
        cappedWarned.add(row.id);
        logger.warn(
          { transactionId: row.id, nonce: row.nonce, maxFeePerGas: row.maxFeePerGas },
          'stuck transaction not replaced: CHAIN_MAX_FEE_GWEI leaves no room for a 12.5 % fee bump',
        );
      }
      return;
    }
    const signed = await sign(row, row.nonce!, { maxFeePerGas: maxFee, maxPriorityFeePerGas: priority });
    const recorded = await storage.addAttempt(
      {
        hash: signed.hash,
        transactionId: row.id,
        rawTransaction: signed.raw,
        maxFeePerGas: maxFee.toString(),
        maxPriorityFeePerGas: priority.toString(),
      },
      row.hash!,
    );
    // Another replica replaced (or settled) this attempt first: its version is the one to keep.
    if (!recorded) return;
    logger.info(
      { transactionId: row.id, nonce: row.nonce, hash: signed.hash },
      'replaced a stuck transaction',
    );
    await send({ ...row, hash: signed.hash }, signed.raw);
  }

  /** One pass of the background loop: (re)broadcast, receipts, replacements. */
  async function tick(): Promise<void> {
    await ensureReconciled();
    const open = await storage.open(chainId, from);
    if (open.length === 0) return;
    const latestNonce = await provider.getTransactionCount(from, 'latest');
    for (const row of open) {
      if (row.status === 'PENDING' && row.rawTransaction) await send(row, row.rawTransaction);
      await settle(row, await storage.attempts(row.id), latestNonce);
    }
  }

  function runTick(): Promise<void> {
    ticking ??= tick().finally(() => {
      ticking = undefined;
    });
    return ticking;
  }

  const loop = async () => {
    if (stopped) return;
    try {
      await runTick();
    } catch (error) {
      logger.error({ err: error }, 'transaction sender pass failed; retrying');
    }
    if (!stopped) timer = setTimeout(() => void loop(), options.pollIntervalMs);
  };

  return {
    signerAddress: from,
    recover: ensureReconciled,
    submit,
    tick: runTick,
    issue: (input: IssueCommand) => submit({ kind: 'issue', ...input }),
    revoke: (input: RevokeCommand) => submit({ kind: 'revoke', ...input }),
    renew: (input: RenewCommand) => submit({ kind: 'renew', ...input }),
    anchorBatch: (input: AnchorBatchCommand) => submit({ kind: 'anchorBatch', ...input }),
    revokeInBatch: (input: RevokeInBatchCommand) => submit({ kind: 'revokeInBatch', ...input }),

    /** Polls until the transaction is MINED, FAILED or REPLACED (tests, synchronous callers). */
    async waitSettled(id: string, timeoutMs = 20_000): Promise<TransactionRow> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await runTick();
        const [row] = await storage.findByIds([id]);
        if (row && !['PENDING', 'SUBMITTED'].includes(row.status)) return row;
        if (Date.now() > deadline) throw new Error(`transaction ${id} not settled in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },

    async list(args: { first?: number | null; after?: string | null; status?: TransactionStatus | null }) {
      const size = pageSize(args.first);
      const after = args.after ? decodeCursor(args.after, ['string', 'string']) : undefined;
      const rows = await storage.list({
        limit: size + 1,
        after: after ? { createdAt: new Date(after[0] as string), id: after[1] as string } : undefined,
        status: args.status ?? undefined,
      });
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], Boolean(after));
    },

    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(() => void loop(), 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking?.catch(() => undefined);
    },
  };
}

export type TransactionsManager = ReturnType<typeof createTransactionsManager>;
