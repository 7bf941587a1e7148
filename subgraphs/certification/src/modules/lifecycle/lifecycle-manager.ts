import { DomainError, ErrorCode, type ContentStore, type Logger, type Principal } from '@symbeon/kernel';
import QRCode from 'qrcode';
import {
  badgeSvg,
  encodeJson,
  erc721Metadata,
  verifiableCredential,
  type CertificateFacts,
} from '../issuance/issuance-documents.js';
import {
  ChainCommandRequested,
  createIssuanceStorage,
  type CertificateRow,
} from '../issuance/issuance-storage.js';
import { createProgrammesStorage, type CertificationDb } from '../programmes/programmes-storage.js';
import { createRequestsManager, INVALID_TRANSITION, systemActor } from '../requests/requests-manager.js';
import { createRequestsStorage } from '../requests/requests-storage.js';
import type { RequestState } from '../requests/request-states.js';
import { hasRole, signedInUserId } from '../shared/access.js';
import { isUuid } from '../shared/validation.js';
import { createAuditStorage } from '../audit/audit-storage.js';
import type { BatchesManager } from '../batches/batches-manager.js';
import { createLifecycleStorage } from './lifecycle-storage.js';

const DAY_MS = 86_400_000;
const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** Announced (outbox) when the expiry sweep marks a certificate EXPIRED. */
export const CertificateExpired = 'certification.CertificateExpired';
export interface CertificateExpiredPayload {
  certificateId: string;
  requestId: string;
  tokenId: string | null;
  holderId: string;
  expiresAt: string;
}

/** The lifecycle's chain commands (same event type and contract as issuance's 'issue'). */
export type LifecycleCommand =
  | { commandId: string; kind: 'revoke'; tokenId: string; reason: string; certificateId: string }
  | {
      commandId: string;
      kind: 'renew';
      tokenId: string;
      contentCid: string;
      /** UTC ISO-8601. */
      expiresAt: string;
      certificateId: string;
    };

/** The chain's report of a renewal, as its indexer publishes it (`CertificateRenewed`). */
export interface CertificateRenewedReport {
  tokenId: string;
  contentCid: string | null;
  expiresAt: string | null;
  txHash: string;
}

export interface LifecycleOptions {
  db: CertificationDb;
  contents?: ContentStore;
  chainId: () => number;
  issuer: { name: string; url: string };
  /** Base of the shareable verification URL: `<publicUrl>/verify/<certificate id>` (served by the web app). */
  publicUrl: string;
  renewalWindowDays: number;
  logger: Logger;
  /** The clock (tests move it). */
  now?: () => Date;
  /** Batch certificates are revoked in their batch. */
  batches?: Pick<BatchesManager, 'requestRevocation'>;
  /**
   * The chain's time (its latest block's timestamp), when there is a chain. Expiry is the contract's rule
   * (block time ≥ expiresAt), so the sweep and the renewal window go by the later of the two clocks: on a
   * development chain moved forward (anvil's evm_increaseTime) certificates expire with the chain, as the
   * verification already says.
   */
  chainTime?: () => Promise<Date | undefined>;
}

const LIVE_REQUEST: readonly RequestState[] = ['ISSUED', 'RENEWAL_DUE', 'RENEWED'];

/**
 * A certificate's life after issuance: revocation and renewal asked of the chain (ChainCommandRequested
 * through the outbox; the state changes when the chain reports it), the expiry sweep, and the shareable
 * verification link.
 */
export function createLifecycleManager(options: LifecycleOptions) {
  const { db, logger } = options;
  const now = options.now ?? (() => new Date());
  /** The later of the wall clock and the chain's (an unreachable chain leaves the wall clock). */
  async function currentTime(): Promise<Date> {
    const wall = now();
    const chain = await options.chainTime?.().catch((error: unknown) => {
      logger.debug({ err: error }, 'chain time unavailable: the wall clock decides');
      return undefined;
    });
    return chain && chain > wall ? chain : wall;
  }

  function within(tx: CertificationDb) {
    const programmes = createProgrammesStorage(tx);
    return {
      programmes,
      certificates: createIssuanceStorage(tx),
      requestRows: createRequestsStorage(tx),
      requests: createRequestsManager(createRequestsStorage(tx), programmes),
      lifecycle: createLifecycleStorage(tx),
      audits: createAuditStorage(tx),
    };
  }

  async function transitionIfStill(
    tx: CertificationDb,
    requestId: string,
    to: RequestState,
    reason?: string,
  ) {
    try {
      return await within(tx).requests.transition(requestId, to, {
        actor: systemActor('certificate-lifecycle'),
        ...(reason ? { reason } : {}),
      });
    } catch (error) {
      if (error instanceof DomainError && [INVALID_TRANSITION, 'CONFLICT'].includes(error.code)) {
        logger.warn({ requestId, to, reason: error.message }, 'transition skipped');
        return undefined;
      }
      throw error;
    }
  }

  async function certificateOrThrow(id: string): Promise<CertificateRow> {
    const [row] = isUuid(id) ? await within(db).certificates.findByIds([id]) : [];
    // A single certificate has a token; a batch certificate is a leaf of an anchored batch.
    if (!row || row.status === 'ISSUING' || (!row.tokenId && !row.batchId))
      throw new DomainError(ErrorCode.NOT_FOUND, `No certificate with id "${id}"`);
    return row;
  }

  /**
   * New documents for the next term (expiry = current expiry + the programme's validity) and the chain asked to
   * renew. The command id names the expiry being renewed, so two renewals of the same term are one command.
   */
  async function requestRenewal(executor: CertificationDb, certificate: CertificateRow): Promise<void> {
    const { programmes, certificates, lifecycle, audits } = within(executor);
    const [programme] = await programmes.findByIds([certificate.programmeId]);
    if (!programme) throw new Error(`Programme ${certificate.programmeId} is missing`);
    const expiresAt = certificate.expiresAt!;
    // A re-audited renewal's documents name the renewal audit's report.
    const renewalAudit = programme.renewalRequiresAudit
      ? await audits.findRenewalAudit(certificate.id, expiresAt)
      : undefined;
    if (!options.contents) throw new Error('renewal needs the content store');
    const facts: CertificateFacts = {
      certificateId: certificate.id,
      requestId: certificate.requestId,
      programme,
      holderAddress: certificate.holderAddress!,
      chainId: certificate.chainId ?? options.chainId(),
      issuedAt: certificate.issuedAt!,
      expiresAt: wholeSeconds(expiresAt.getTime() + programme.validityDays * DAY_MS),
      auditReportCid: renewalAudit?.reportCid ?? (await certificates.auditReportCid(certificate.requestId)),
      issuer: options.issuer,
    };
    const { contents } = options;
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
    await lifecycle.recordEvent<LifecycleCommand>(ChainCommandRequested, {
      commandId: `${certificate.id}:renew:${Math.floor(expiresAt.getTime() / 1000)}`,
      kind: 'renew',
      tokenId: certificate.tokenId!,
      contentCid: metadata.cid,
      expiresAt: facts.expiresAt.toISOString(),
      certificateId: certificate.id,
    });
    logger.info(
      { certificateId: certificate.id, expiresAt: facts.expiresAt, metadataCid: metadata.cid },
      'renewal requested',
    );
  }

  const verificationUrl = (certificateId: string) =>
    `${options.publicUrl.replace(/\/+$/, '')}/verify/${encodeURIComponent(certificateId)}`;

  return {
    verificationUrl,

    verificationQrCodeSvg: (certificateId: string) =>
      QRCode.toString(verificationUrl(certificateId), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),

    /** ISSUER or ADMIN: asks the chain to revoke; the CertificateRevoked consumer marks it REVOKED. */
    async revoke(principal: Principal, id: string, reason: string): Promise<CertificateRow> {
      signedInUserId(principal);
      if (!hasRole(principal, 'ISSUER') && !hasRole(principal, 'ADMIN'))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only issuers and administrators revoke certificates');
      const why = reason.trim();
      if (!why) throw new DomainError(ErrorCode.BAD_USER_INPUT, 'A reason is required', 'reason');
      if (why.length > 500)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'The reason is at most 500 characters', 'reason');
      const certificate = await certificateOrThrow(id);
      if (certificate.status === 'REVOKED')
        throw new DomainError(ErrorCode.INVALID_STATE, 'The certificate is already revoked');
      if (certificate.status !== 'VALID')
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `A ${certificate.status} certificate cannot be revoked`,
        );
      if (certificate.batchId) {
        // A leaf of an anchored batch: revoked in the batch (CertificateAnchor.revokeInBatch).
        if (!options.batches) throw new Error('revoking a batch certificate needs the batches manager');
        await options.batches.requestRevocation(db, certificate, why);
      } else {
        await within(db).lifecycle.recordEvent<LifecycleCommand>(ChainCommandRequested, {
          commandId: `${certificate.id}:revoke`,
          kind: 'revoke',
          tokenId: certificate.tokenId!,
          reason: why,
          certificateId: certificate.id,
        });
      }
      logger.info({ certificateId: certificate.id, tokenId: certificate.tokenId }, 'revocation requested');
      return certificate;
    },

    /**
     * The holder (requester) or an ADMIN, in RENEWAL_DUE (or ISSUED/RENEWED within the renewal window): new
     * documents with the new expiry, and the chain asked to renew. The command id names the expiry being
     * renewed, so two renewals of the same term are one command on chain.
     */
    async renew(principal: Principal, id: string): Promise<CertificateRow> {
      const userId = signedInUserId(principal);
      const certificate = await certificateOrThrow(id);
      if (certificate.batchId)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          'A batch certificate is not renewed on chain: its term is in its anchored leaf (request a new one)',
        );
      if (certificate.holderId !== userId && !hasRole(principal, 'ADMIN'))
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Only the holder or an administrator renews a certificate',
        );
      const { programmes, requestRows } = within(db);
      const [request] = await requestRows.findByIds([certificate.requestId]);
      const at = await currentTime();
      const expiresAt = certificate.expiresAt!;
      const inWindow = expiresAt.getTime() - at.getTime() <= options.renewalWindowDays * DAY_MS;
      const renewable =
        certificate.status === 'VALID' &&
        expiresAt > at &&
        (request?.status === 'RENEWAL_DUE' ||
          ((request?.status === 'ISSUED' || request?.status === 'RENEWED') && inWindow));
      if (!renewable)
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `Renewal opens ${options.renewalWindowDays} days before expiry, for a valid certificate`,
        );
      const [programme] = await programmes.findByIds([certificate.programmeId]);
      if (!programme) throw new Error(`Programme ${certificate.programmeId} is missing`);
      if (programme.renewalRequiresAudit) {
        // The automated audit runs again first; its RenewalAuditPassed sends the renewal (renewAfterAudit).
        const audits = createAuditStorage(db);
        const current = await audits.findRenewalAudit(certificate.id, expiresAt);
        if (current?.status !== 'PASSED') {
          const { row, requested } = await audits.requestRenewalAudit(certificate.id, expiresAt, userId);
          logger.info(
            { certificateId: certificate.id, status: row.status, requested },
            'renewal audit requested',
          );
          return certificate;
        }
      }
      await requestRenewal(db, certificate);
      return certificate;
    },

    /**
     * RenewalAuditPassed: the renewal the holder asked for goes to the chain — if the certificate is still
     * VALID in the same term (renewed, revoked or expired meanwhile: nothing to do).
     */
    async renewAfterAudit(tx: CertificationDb, certificateId: string, term: Date) {
      const [certificate] = await within(tx).certificates.findByIds([certificateId]);
      if (certificate?.status !== 'VALID' || certificate.expiresAt?.getTime() !== term.getTime()) {
        logger.warn({ certificateId }, 'renewal audit passed, but the certificate moved on: no renewal sent');
        return undefined;
      }
      await requestRenewal(tx, certificate);
      return certificate;
    },

    /** CertificateRenewed from the chain: the certificate takes the chain's term and documents; RENEWED. */
    async renewed(tx: CertificationDb, report: CertificateRenewedReport) {
      const { certificates, requestRows } = within(tx);
      const [certificate] = await certificates.findByTokenIds([report.tokenId]);
      if (!certificate || certificate.status === 'ISSUING' || certificate.status === 'REVOKED')
        return undefined;
      const change: Parameters<typeof certificates.changeState>[2] = {
        status: 'VALID',
        expiresAt: report.expiresAt ? new Date(report.expiresAt) : null,
        txHash: report.txHash,
      };
      if (report.contentCid) {
        change.metadataCid = report.contentCid;
        const metadata = await readMetadata(report.contentCid);
        if (metadata.image) change.imageCid = metadata.image;
        if (metadata.credential) change.credentialCid = metadata.credential;
      }
      const row = await certificates.changeState(certificate.id, certificate.status, change);
      const [request] = await requestRows.findByIds([certificate.requestId]);
      if (request?.status === 'ISSUED' || request?.status === 'RENEWED')
        await transitionIfStill(tx, certificate.requestId, 'RENEWAL_DUE');
      await transitionIfStill(tx, certificate.requestId, 'RENEWED');
      return row;
    },

    /**
     * Marks certificates past their expiry EXPIRED (announced), moves their requests to EXPIRED, and live
     * requests within the renewal window to RENEWAL_DUE. One replica at a time (advisory lock); idempotent.
     */
    async sweep(when?: Date): Promise<{ expired: number; renewalDue: number }> {
      const at = when ?? (await currentTime());
      return db.transaction(async (tx) => {
        const { certificates, lifecycle } = within(tx);
        await lifecycle.lockSweep();
        const due = await lifecycle.expiredBy(at);
        let expired = 0;
        for (const certificate of due) {
          const row = await certificates.changeState(certificate.id, 'VALID', { status: 'EXPIRED' });
          if (!row) continue;
          expired += 1;
          await lifecycle.recordEvent<CertificateExpiredPayload>(CertificateExpired, {
            certificateId: row.id,
            requestId: row.requestId,
            tokenId: row.tokenId,
            holderId: row.holderId,
            expiresAt: row.expiresAt!.toISOString(),
          });
          const [request] = await within(tx).requestRows.findByIds([row.requestId]);
          if (request && LIVE_REQUEST.includes(request.status))
            await transitionIfStill(tx, row.requestId, 'EXPIRED');
        }
        const windowEnd = new Date(at.getTime() + options.renewalWindowDays * DAY_MS);
        const soon = await lifecycle.renewalCandidates(at, windowEnd);
        let renewalDue = 0;
        for (const requestId of soon) {
          if (await transitionIfStill(tx, requestId, 'RENEWAL_DUE')) renewalDue += 1;
        }
        if (expired || renewalDue) logger.info({ expired, renewalDue }, 'expiry sweep');
        return { expired, renewalDue };
      });
    },
  };

  async function readMetadata(cid: string): Promise<{ image?: string; credential?: string }> {
    if (!options.contents) return {};
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of (await options.contents.get(cid)) ?? []) chunks.push(chunk);
      const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const cidOf = (value: unknown) =>
        typeof value === 'string' && value.startsWith('ipfs://') ? value.slice('ipfs://'.length) : undefined;
      return { image: cidOf(json.image), credential: cidOf(json.credential) };
    } catch (error) {
      logger.warn({ cid, err: error }, 'renewed metadata unreadable: image and credential CIDs kept');
      return {};
    }
  }
}

export type LifecycleManager = ReturnType<typeof createLifecycleManager>;
