import { cidToDigest } from '@symbeon/contracts';
import {
  DomainError,
  ErrorCode,
  startPeriodic,
  type ContentStore,
  type Logger,
  type Principal,
} from '@symbeon/kernel';
import {
  ChainCommandRequested,
  createIssuanceStorage,
  type CertificateRow,
} from '../issuance/issuance-storage.js';
import { createProgrammesStorage, type CertificationDb } from '../programmes/programmes-storage.js';
import { createRequestsManager, INVALID_TRANSITION, systemActor } from '../requests/requests-manager.js';
import { createRequestsStorage } from '../requests/requests-storage.js';
import type { RequestState } from '../requests/request-states.js';
import { requireAdmin } from '../shared/access.js';
import { requireUuid } from '../shared/validation.js';
import { batchIdToRoot, buildBatch, LEAF_ENCODING, leafValues, rootToBatchId } from './batch-tree.js';
import { createBatchesStorage, type BatchRow } from './batches-storage.js';

/** The batch commands for the chain subgraph (same event type as issuance's 'issue'; a contract, not an import). */
export interface AnchorBatchCommandPayload {
  /** The chain's idempotency key: the batch id. */
  commandId: string;
  kind: 'anchorBatch';
  /** 0x + 64 hex. */
  merkleRoot: string;
  size: number;
  /** The batch manifest (a single raw block: its CID's digest is what the chain records). */
  metadataCid: string;
  batchId: string;
  programmeId: string;
}
export interface RevokeInBatchCommandPayload {
  /** `<certificate id>:revoke`, as for single certificates. */
  commandId: string;
  kind: 'revokeInBatch';
  /** uint256(root), decimal: the on-chain batch id. */
  batchId: string;
  leaf: string;
  reason: string;
  certificateId: string;
}

/** The chain's reports about batches, as its indexer publishes them. */
export interface BatchAnchoredReport {
  chainId: number;
  /** uint256(root), decimal. */
  batchId: string;
  size: number;
  contentCid: string | null;
  issuer: string | null;
  txHash: string;
  blockNumber: number;
}
export interface BatchLeafRevokedReport {
  batchId: string;
  leaf: string;
  reason: string;
  txHash: string;
}

export interface BatchesOptions {
  db: CertificationDb;
  contents?: ContentStore;
  logger: Logger;
  /** A batch closes as soon as it has this many certificates... */
  maxSize: number;
  /** ...or this long after its first certificate joined (checked by `closeDue`). */
  maxWaitSeconds: number;
  now?: () => Date;
}

/**
 * Merkle-batch issuance (programmes in MERKLE_BATCH mode). A certificate whose documents are built joins its
 * programme's open batch (its leaf written with it, in the issuance step's transaction). Closing a batch builds
 * the tree, writes every member's proof, stores the manifest and records the anchorBatch command — one
 * transaction, so a batch's membership and proofs exist before the chain is asked, and the command is recorded
 * once. BatchAnchored for its root makes the members VALID and their requests ISSUED (a redelivery finds the
 * batch ANCHORED and does nothing); BatchLeafRevoked revokes one member.
 */
export function createBatchesManager(options: BatchesOptions) {
  const { logger } = options;
  const now = options.now ?? (() => new Date());

  function within(tx: CertificationDb) {
    const programmes = createProgrammesStorage(tx);
    return {
      batches: createBatchesStorage(tx),
      certificates: createIssuanceStorage(tx),
      requests: createRequestsManager(createRequestsStorage(tx), programmes),
    };
  }

  async function transitionIfStill(
    tx: CertificationDb,
    requestId: string,
    to: RequestState,
    extra: { reason?: string; evidence?: Record<string, unknown> },
  ) {
    try {
      return await within(tx).requests.transition(requestId, to, {
        actor: systemActor('chain-events'),
        ...extra,
      });
    } catch (error) {
      if (error instanceof DomainError && [INVALID_TRANSITION, 'CONFLICT'].includes(error.code)) {
        logger.warn({ requestId, to, reason: error.message }, 'transition skipped');
        return undefined;
      }
      throw error;
    }
  }

  /** Builds the tree of a locked OPEN batch, writes proofs and manifest, records the anchor command. */
  async function close(tx: CertificationDb, batch: BatchRow): Promise<BatchRow> {
    if (!options.contents) throw new Error('batch issuance needs the content store');
    const { batches } = within(tx);
    const members = await batches.members(batch.id);
    if (members.length === 0) throw new Error(`Batch ${batch.id} has no members`);
    const built = buildBatch(
      members.map((member) => leafValues(member.holderAddress!, member.metadataCid!, member.expiresAt)),
    );
    for (const [index, member] of members.entries()) {
      const { leaf, proof } = built.members[index]!;
      // Written when the member joined, from the same values: a difference is a bug, never anchored.
      if (leaf !== member.leaf)
        throw new Error(`Certificate ${member.id}'s leaf changed before its batch closed`);
      await batches.setProof(member.id, proof);
    }
    // The manifest lets anyone rebuild every proof from the anchored root (compact: it must stay one block).
    const manifest = {
      type: 'SymbeonCertificateBatch',
      version: 1,
      batch: batch.id,
      programme: batch.programmeId,
      merkleRoot: built.root,
      onChainBatchId: rootToBatchId(built.root),
      size: members.length,
      leafEncoding: LEAF_ENCODING,
      leaf: 'keccak256(keccak256(abi.encode(holder, sha256(metadata), expiresAt)))',
      certificates: members.map((member) => ({
        id: member.id,
        metadata: `ipfs://${member.metadataCid}`,
        leaf: member.leaf,
      })),
      tree: built.tree,
    };
    const stored = await options.contents.add(new TextEncoder().encode(JSON.stringify(manifest)), {
      mediaType: 'application/json',
    });
    cidToDigest(stored.cid); // throws unless one raw block: the chain records the manifest's sha-256
    const closed = await batches.markClosed(batch.id, {
      merkleRoot: built.root,
      size: members.length,
      manifestCid: stored.cid,
      commandId: batch.id,
    });
    await batches.recordEvent<AnchorBatchCommandPayload>(ChainCommandRequested, {
      commandId: batch.id,
      kind: 'anchorBatch',
      merkleRoot: built.root,
      size: members.length,
      metadataCid: stored.cid,
      batchId: batch.id,
      programmeId: batch.programmeId,
    });
    logger.info(
      { batchId: batch.id, root: built.root, size: members.length, manifestCid: stored.cid },
      'batch closed, anchor requested',
    );
    return closed;
  }

  return {
    maxSize: options.maxSize,

    /**
     * A certificate whose documents are built joins its programme's open batch (in the issuance step's
     * transaction); the batch closes at once when this member fills it.
     */
    async join(
      tx: CertificationDb,
      certificate: CertificateRow,
      documents: Parameters<ReturnType<typeof createBatchesStorage>['join']>[2],
    ): Promise<CertificateRow | undefined> {
      const { batches } = within(tx);
      const batch = await batches.lockOpenBatch(certificate.programmeId);
      const joined = await batches.join(certificate.id, batch, documents);
      if (!joined) return undefined;
      logger.info(
        { requestId: certificate.requestId, batchId: batch.id, size: joined.batch.size },
        'certificate joined its batch',
      );
      if (joined.batch.size >= options.maxSize) await close(tx, joined.batch);
      return joined.certificate;
    },

    /** Closes the OPEN batches older than the wait limit (each in its own transaction). */
    async closeDue(at: Date = now()): Promise<BatchRow[]> {
      const due = await within(options.db).batches.openSince(
        new Date(at.getTime() - options.maxWaitSeconds * 1000),
      );
      const closed: BatchRow[] = [];
      for (const candidate of due) {
        const row = await options.db.transaction(async (tx) => {
          const locked = await within(tx).batches.lockIfOpen(candidate.id);
          return locked ? close(tx, locked) : undefined;
        });
        if (row) closed.push(row);
      }
      return closed;
    },

    /** Administrators: closes the programme's open batch now (anchored without waiting for size or age). */
    async closeNow(principal: Principal, programmeId: string): Promise<BatchRow> {
      requireAdmin(principal);
      requireUuid(programmeId, 'programme', 'programmeId');
      return options.db.transaction(async (tx) => {
        const { batches } = within(tx);
        const open = await batches.openOf(programmeId);
        const locked = open ? await batches.lockIfOpen(open.id) : undefined;
        if (!locked)
          throw new DomainError(ErrorCode.NOT_FOUND, 'The programme has no open batch', 'programmeId');
        return close(tx, locked);
      });
    },

    /** BatchAnchored from the chain: the batch is ANCHORED, its members VALID, their requests ISSUED. */
    async anchored(tx: CertificationDb, report: BatchAnchoredReport): Promise<BatchRow | undefined> {
      const { batches, certificates } = within(tx);
      const batch = await batches.findByRoot(batchIdToRoot(report.batchId));
      // Roots anchored some other way are not ours to follow; a redelivery finds the batch ANCHORED.
      if (!batch || batch.status !== 'ANCHORING') return undefined;
      if (report.contentCid !== batch.manifestCid)
        logger.warn(
          { batchId: batch.id, anchored: report.contentCid, ours: batch.manifestCid },
          'batch anchored with another manifest digest than requested',
        );
      const row = await batches.markAnchored(batch.id, {
        chainId: report.chainId,
        txHash: report.txHash,
        blockNumber: report.blockNumber,
        anchoredBy: report.issuer,
      });
      if (!row) return undefined;
      for (const member of await batches.members(batch.id)) {
        const valid = await certificates.changeState(member.id, 'ISSUING', {
          status: 'VALID',
          chainId: report.chainId,
          txHash: report.txHash,
          blockNumber: report.blockNumber,
        });
        if (!valid) continue;
        await transitionIfStill(tx, member.requestId, 'ISSUED', {
          evidence: {
            batchId: batch.id,
            merkleRoot: batch.merkleRoot,
            leaf: member.leaf,
            txHash: report.txHash,
            blockNumber: report.blockNumber,
          },
        });
      }
      logger.info({ batchId: batch.id, root: batch.merkleRoot, txHash: report.txHash }, 'batch anchored');
      return row;
    },

    /** BatchLeafRevoked from the chain: that member and its request are REVOKED. */
    async leafRevoked(
      tx: CertificationDb,
      report: BatchLeafRevokedReport,
    ): Promise<CertificateRow | undefined> {
      const { batches, certificates } = within(tx);
      const batch = await batches.findByRoot(batchIdToRoot(report.batchId));
      const member = batch ? await batches.memberByLeaf(batch.id, report.leaf) : undefined;
      if (!member || member.status === 'REVOKED') return undefined;
      const reason = report.reason || 'revoked on chain';
      const row = await certificates.changeState(member.id, member.status, {
        status: 'REVOKED',
        revokedAt: now(),
        revokedReason: reason,
      });
      await transitionIfStill(tx, member.requestId, 'REVOKED', {
        reason,
        evidence: { batchId: batch!.id, leaf: member.leaf, txHash: report.txHash },
      });
      return row;
    },

    /**
     * Records the chain command revoking a batch certificate (its leaf in its anchored batch), for the
     * revocation flow: `commandId` `<certificate id>:revoke`, as for a single certificate's revoke.
     */
    async requestRevocation(
      tx: CertificationDb,
      certificate: CertificateRow,
      reason: string,
    ): Promise<RevokeInBatchCommandPayload> {
      const [batch] = certificate.batchId ? await within(tx).batches.findByIds([certificate.batchId]) : [];
      if (!batch?.merkleRoot || batch.status !== 'ANCHORED' || !certificate.leaf)
        throw new DomainError(ErrorCode.INVALID_STATE, 'The certificate is not in an anchored batch');
      const command: RevokeInBatchCommandPayload = {
        commandId: `${certificate.id}:revoke`,
        kind: 'revokeInBatch',
        batchId: rootToBatchId(batch.merkleRoot),
        leaf: certificate.leaf,
        reason,
        certificateId: certificate.id,
      };
      await within(tx).batches.recordEvent<RevokeInBatchCommandPayload>(ChainCommandRequested, command);
      return command;
    },
  };
}

export type BatchesManager = ReturnType<typeof createBatchesManager>;

/** Runs `closeDue` every `seconds` (a batch waits at most its age limit plus one period). */
export function startBatchCloser(
  batches: Pick<BatchesManager, 'closeDue'>,
  seconds: number,
  onError: (error: unknown) => void,
): { close(): Promise<void> } {
  return startPeriodic(() => batches.closeDue(), seconds, onError);
}
