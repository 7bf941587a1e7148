import { cidToDigest, digestToTokenId } from '@symbeon/contracts';
import { DomainError, ErrorCode, type ContentStore, type Logger, type Principal } from '@symbeon/kernel';
import { getAddress, isAddress } from 'ethers';
import type { BatchesManager } from '../batches/batches-manager.js';
import { leafHash, leafValues } from '../batches/batch-tree.js';
import { createProgrammesStorage, type CertificationDb } from '../programmes/programmes-storage.js';
import { createRequestsManager, INVALID_TRANSITION, systemActor } from '../requests/requests-manager.js';
import { createRequestsStorage } from '../requests/requests-storage.js';
import { hasRole } from '../shared/access.js';
import { isUuid } from '../shared/validation.js';
import {
  badgeSvg,
  encodeJson,
  erc721Metadata,
  verifiableCredential,
  type CertificateFacts,
} from './issuance-documents.js';
import { createIssuanceStorage, type CertificateRow } from './issuance-storage.js';

export interface IssuanceOptions {
  contents: ContentStore;
  /** The chain the certificates are issued on (the deployment record's), for the holder's did:pkh. */
  chainId: () => number;
  issuer: { name: string; url: string };
  logger: Logger;
  /** MERKLE_BATCH programmes: their certificates join a batch instead of being minted one by one. */
  batches?: BatchesManager;
}

/** The chain's report of a mint, as its indexer publishes it (`CertificateIssued`). */
/** chain's ChainCommandFailed, as it publishes it (a contract between the two subgraphs, not an import). */
export interface ChainCommandFailure {
  commandId: string;
  kind: string;
  outcome: 'REFUSED' | 'REVERTED' | 'REPLACED';
  error: string | null;
  retryable: boolean;
}

/** chain's ChainReorganized (a contract between the two subgraphs): the logs no longer in the chain. */
export interface ChainReorganizedReport {
  chainId: number;
  removedLogs: Array<{ txHash: string; blockNumber: number; eventName: string; address: string }>;
}

export interface CertificateIssuedReport {
  chainId: number;
  tokenId: string;
  holder: string;
  contentCid: string | null;
  txHash: string;
  blockNumber: number;
}

const DAY_MS = 86_400_000;
/** Whole seconds: the chain keeps Unix seconds, the documents must say the same instant. */
const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/**
 * Issuance: the payment gate after approval, the certificate's documents on IPFS, the command asking the
 * chain to issue, and ISSUED / REVOKED when the chain reports it. Every step takes the transaction of the
 * event that caused it (consumeEvents), so the step, its outbox events and "event processed" commit
 * together; a redelivered event is skipped by the consumer, a repeated step finds its work done.
 */
export function createIssuanceManager(options: IssuanceOptions) {
  const { contents, logger } = options;

  function within(tx: CertificationDb) {
    const programmes = createProgrammesStorage(tx);
    return {
      programmes,
      storage: createIssuanceStorage(tx),
      requests: createRequestsManager(createRequestsStorage(tx), programmes),
      requestRows: createRequestsStorage(tx),
    };
  }

  /** A move the request may no longer make (cancelled meanwhile, moved by someone else): logged, skipped. */
  async function transitionIfStill(
    requests: ReturnType<typeof within>['requests'],
    ...args: Parameters<ReturnType<typeof within>['requests']['transition']>
  ) {
    try {
      return await requests.transition(...args);
    } catch (error) {
      if (error instanceof DomainError && [INVALID_TRANSITION, 'CONFLICT'].includes(error.code)) {
        logger.warn({ requestId: args[0], to: args[1], reason: error.message }, 'transition skipped');
        return undefined;
      }
      throw error;
    }
  }

  async function buildAndRequest(tx: CertificationDb, certificate: CertificateRow, holderAddress: string) {
    const { programmes, storage } = within(tx);
    const [programme] = await programmes.findByIds([certificate.programmeId]);
    if (!programme) throw new Error(`Programme ${certificate.programmeId} is missing`);
    const issuedAt = wholeSeconds(Date.now());
    const facts: CertificateFacts = {
      certificateId: certificate.id,
      requestId: certificate.requestId,
      programme,
      holderAddress,
      chainId: options.chainId(),
      issuedAt,
      expiresAt: new Date(issuedAt.getTime() + programme.validityDays * DAY_MS),
      auditReportCid: await storage.auditReportCid(certificate.requestId),
      issuer: options.issuer,
    };
    const image = await contents.add(new TextEncoder().encode(badgeSvg(facts)), {
      mediaType: 'image/svg+xml',
    });
    const credential = await contents.add(encodeJson(verifiableCredential(facts)), {
      mediaType: 'application/vc+json',
    });
    const metadata = await contents.add(
      encodeJson(erc721Metadata(facts, { image: image.cid, credential: credential.cid })),
      { mediaType: 'application/json' },
    );
    if (programme.issuanceMode === 'MERKLE_BATCH') {
      if (!options.batches) throw new Error('MERKLE_BATCH issuance needs the batches manager');
      // No token: the certificate is a leaf (holder, metadata digest, expiry) of its programme's next batch.
      const row = await options.batches.join(tx, certificate, {
        holderAddress,
        metadataCid: metadata.cid,
        credentialCid: credential.cid,
        imageCid: image.cid,
        issuedAt: facts.issuedAt,
        expiresAt: facts.expiresAt,
        chainId: facts.chainId,
        leaf: leafHash(leafValues(holderAddress, metadata.cid, facts.expiresAt)),
      });
      logger.info(
        { requestId: certificate.requestId, metadataCid: metadata.cid },
        'batch issuance requested',
      );
      return row;
    }
    // One block (raw leaf): the CID's digest is the sha-256 of the bytes, the chain's content digest.
    const tokenId = digestToTokenId(cidToDigest(metadata.cid)).toString();
    const commandId = `${certificate.requestId}:${certificate.attempt}`;
    const row = await storage.recordIssueCommand(
      certificate.id,
      {
        holderAddress,
        tokenId,
        metadataCid: metadata.cid,
        credentialCid: credential.cid,
        imageCid: image.cid,
        issuedAt: facts.issuedAt,
        expiresAt: facts.expiresAt,
        chainId: facts.chainId,
      },
      {
        commandId,
        kind: 'issue',
        holder: holderAddress,
        contentCid: metadata.cid,
        expiresAt: facts.expiresAt.toISOString(),
        requestId: certificate.requestId,
        certificateId: certificate.id,
      },
    );
    logger.info({ requestId: certificate.requestId, tokenId, metadataCid: metadata.cid }, 'issue requested');
    return row;
  }

  return {
    /** CertificationRequestApproved: free programmes go to ISSUING, priced ones wait for payment. */
    async gate(tx: CertificationDb, requestId: string) {
      const { requests, requestRows, programmes } = within(tx);
      const [request] = await requestRows.findByIds([requestId]);
      if (!request) throw new Error(`Request ${requestId} is missing`);
      const [programme] = await programmes.findByIds([request.programmeId]);
      const to = programme?.priceAmountMinor == null ? 'ISSUING' : 'AWAITING_PAYMENT';
      return transitionIfStill(requests, requestId, to, { actor: systemActor('payment-gate') });
    },

    /**
     * CertificationIssuanceRequested: creates the request's certificate and, once the holder's wallet is
     * known, stores its documents and asks the chain to issue. Without a wallet it waits for WalletLinked.
     */
    async prepare(tx: CertificationDb, requestId: string): Promise<CertificateRow | undefined> {
      const { storage, requestRows } = within(tx);
      const [request] = await requestRows.findByIds([requestId]);
      if (!request || request.status !== 'ISSUING') return undefined;
      const certificate = await storage.insertPending({
        requestId,
        programmeId: request.programmeId,
        holderId: request.requesterId,
      });
      if (certificate.tokenId || certificate.metadataCid) return certificate;
      const wallet = await storage.firstWalletOf(request.requesterId);
      if (!wallet) {
        logger.warn({ requestId }, 'the requester has no wallet yet: issuance waits for one');
        return certificate;
      }
      return buildAndRequest(tx, certificate, wallet);
    },

    /** identity.WalletLinked: remembers it, and resumes issuances that waited for a wallet. */
    async walletLinked(
      tx: CertificationDb,
      wallet: { userId: string; address: string; chainId: number; linkedAt: string },
    ) {
      if (!isAddress(wallet.address))
        throw new Error(`WalletLinked with a bad address for user ${wallet.userId}`);
      const { storage } = within(tx);
      const address = getAddress(wallet.address);
      await storage.rememberWallet({
        userId: wallet.userId,
        address,
        chainId: wallet.chainId,
        linkedAt: new Date(wallet.linkedAt),
      });
      const holder = (await storage.firstWalletOf(wallet.userId)) ?? address;
      for (const certificate of await storage.awaitingWallet(wallet.userId)) {
        await buildAndRequest(tx, certificate, holder);
      }
    },

    /** CertificateIssued from the chain: the certificate is VALID and its request ISSUED. */
    async issued(tx: CertificationDb, report: CertificateIssuedReport) {
      const { storage, requests } = within(tx);
      const [certificate] = await storage.findByTokenIds([report.tokenId]);
      // Tokens issued some other way (the chain's GraphQL mutation) are not ours to follow.
      if (!certificate || certificate.status !== 'ISSUING') return undefined;
      if (certificate.holderAddress && getAddress(report.holder) !== certificate.holderAddress) {
        // Cannot happen through our command (the holder is in it); recorded loudly, never made VALID.
        logger.error({ report, certificateId: certificate.id }, 'minted to another holder than requested');
        return undefined;
      }
      const valid = await storage.changeState(certificate.id, 'ISSUING', {
        status: 'VALID',
        chainError: null,
        chainErrorAt: null,
        chainErrorRetryable: null,
        chainId: report.chainId,
        txHash: report.txHash,
        blockNumber: report.blockNumber,
      });
      await transitionIfStill(requests, certificate.requestId, 'ISSUED', {
        actor: systemActor('chain-events'),
        evidence: { tokenId: report.tokenId, txHash: report.txHash, blockNumber: report.blockNumber },
      });
      return valid;
    },

    /**
     * chain's ChainCommandFailed for one of our commands: the issue command (`<request id>:<attempt>`, the
     * certificate's command id) or a lifecycle one (`<certificate id>:revoke`, `…:renew:<expiry>`). Recorded on
     * the certificate for operators (CertificationRequest.issuance, retryCertificateIssuance); a failure of a
     * command that is not the certificate's current one (an older attempt) changes nothing.
     */
    async chainCommandFailed(tx: CertificationDb, failure: ChainCommandFailure) {
      const { storage } = within(tx);
      let certificate = await storage.findByCommandId(failure.commandId);
      if (!certificate) {
        const [prefix] = failure.commandId.split(':');
        if (failure.kind !== 'issue' && prefix && isUuid(prefix))
          [certificate] = await storage.findByIds([prefix]);
      }
      if (!certificate) return undefined;
      const message = `${failure.kind} ${failure.outcome.toLowerCase()}: ${failure.error ?? 'no reason given'}`;
      logger.warn(
        { certificateId: certificate.id, commandId: failure.commandId, message },
        'chain command failed',
      );
      await storage.recordChainError(certificate.id, { message, retryable: failure.retryable });
      return certificate;
    },

    /**
     * An issuer or administrator asks again for a certificate whose issue command the chain did not carry out
     * (it stays ISSUING). Refused before anything was sent (retryable): the same command again, under the same
     * command id — the chain still sends it at most once. Reverted on chain or its nonce taken (final for that
     * command id): a new attempt, new documents (new dates, so a new token id) under `<request id>:<attempt+1>`.
     */
    async retryIssuance(
      db: CertificationDb,
      principal: Principal,
      requestId: string,
    ): Promise<CertificateRow> {
      if (!hasRole(principal, 'ISSUER') && !hasRole(principal, 'ADMIN'))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only issuers and administrators retry issuance');
      const { storage } = within(db);
      const [certificate] = isUuid(requestId) ? await storage.findByRequestIds([requestId]) : [];
      if (!certificate)
        throw new DomainError(ErrorCode.NOT_FOUND, `No certificate for request "${requestId}"`);
      if (certificate.status !== 'ISSUING' || !certificate.chainError)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          'Only an issuance the chain did not carry out can be retried (the certificate is ' +
            `${certificate.status}${certificate.chainError ? '' : ', with no failure recorded'})`,
        );
      if (certificate.batchId || !certificate.tokenId)
        throw new DomainError(ErrorCode.INVALID_STATE, 'Batch certificates are retried with their batch');
      if (certificate.chainErrorRetryable) {
        await db.transaction(async (tx) => {
          const inTx = within(tx).storage;
          await inTx.recordChainError(certificate.id, null);
          await inTx.repeatIssueCommand({
            commandId: certificate.commandId!,
            kind: 'issue',
            holder: certificate.holderAddress!,
            contentCid: certificate.metadataCid!,
            expiresAt: certificate.expiresAt!.toISOString(),
            requestId: certificate.requestId,
            certificateId: certificate.id,
          });
        });
        logger.info(
          { certificateId: certificate.id, commandId: certificate.commandId },
          'issue command sent again',
        );
        return (await storage.findByIds([certificate.id]))[0]!;
      }
      return db.transaction(async (tx) => {
        const reset = await within(tx).storage.resetForNewAttempt(certificate.id);
        if (!reset) throw new DomainError(ErrorCode.CONFLICT, 'The issuance changed meanwhile');
        const row = await buildAndRequest(tx, reset, certificate.holderAddress!);
        logger.info({ certificateId: certificate.id, attempt: reset.attempt }, 'issuance attempted anew');
        return row ?? reset;
      });
    },

    /**
     * chain's ChainReorganized: a block that issued one of our certificates is no longer in the chain. The
     * certificate goes back to ISSUING (its failure recorded: "issue reorganised out …") and its request from
     * ISSUED to ISSUING; the indexer replays the new chain, and when the transaction is mined again its
     * CertificateIssued makes both VALID / ISSUED again. If it never comes back, an operator sees it
     * (CertificationRequest.issuance) and retries. Batches, revocations and renewals undone by a reorg are only
     * logged (verification reads the chain itself, so it never vouches for an undone fact).
     */
    async reorganised(tx: CertificationDb, report: ChainReorganizedReport) {
      const { storage, requests } = within(tx);
      const issuedLogs = report.removedLogs.filter((log) => log.eventName === 'CertificateIssued');
      const undone = await storage.findByTxHashes(issuedLogs.map((log) => log.txHash));
      for (const certificate of undone) {
        if (certificate.status !== 'VALID') continue;
        const log = issuedLogs.find((entry) => entry.txHash === certificate.txHash)!;
        const row = await storage.changeState(certificate.id, 'VALID', {
          status: 'ISSUING',
          txHash: null,
          blockNumber: null,
        });
        if (!row) continue;
        const reason = `A chain reorganisation removed block ${log.blockNumber}, which issued it`;
        await storage.recordChainError(certificate.id, {
          message: `issue reorganised out of block ${log.blockNumber} (tx ${log.txHash}): waiting for it to be mined again`,
          retryable: false,
        });
        await transitionIfStill(requests, certificate.requestId, 'ISSUING', {
          actor: systemActor('chain-events'),
          reason,
          evidence: { txHash: log.txHash, blockNumber: log.blockNumber },
        });
        logger.warn(
          { certificateId: certificate.id, txHash: log.txHash },
          'issuance undone by a reorganisation',
        );
      }
      const others = report.removedLogs.filter(
        (log) => log.eventName !== 'CertificateIssued' && log.eventName !== 'PaymentReceived',
      );
      if (others.length > 0)
        logger.warn(
          { removed: others.map((log) => `${log.eventName}@${log.blockNumber}`) },
          'reorganised chain events',
        );
      return undone;
    },

    /** CertificateRevoked from the chain: the certificate and its request are REVOKED. */
    async revoked(tx: CertificationDb, report: { tokenId: string; reason: string; txHash: string }) {
      const { storage, requests } = within(tx);
      const [certificate] = await storage.findByTokenIds([report.tokenId]);
      if (!certificate || certificate.status === 'REVOKED') return undefined;
      const row = await storage.changeState(certificate.id, certificate.status, {
        status: 'REVOKED',
        revokedAt: new Date(),
        revokedReason: report.reason || 'revoked on chain',
      });
      await transitionIfStill(requests, certificate.requestId, 'REVOKED', {
        actor: systemActor('chain-events'),
        reason: report.reason || 'revoked on chain',
        evidence: { tokenId: report.tokenId, txHash: report.txHash },
      });
      return row;
    },
  };
}

export type IssuanceManager = ReturnType<typeof createIssuanceManager>;
