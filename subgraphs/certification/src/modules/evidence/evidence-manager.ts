import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  ContentTooLargeError,
  DomainError,
  ErrorCode,
  type ContentStore,
  type Principal,
} from '@symbeon/kernel';
import type { ProgrammeRow, ProgrammesStorage } from '../programmes/programmes-storage.js';
import { canSeeRequest } from '../requests/requests-manager.js';
import type { RequestRow, RequestsStorage } from '../requests/requests-storage.js';
import { signedInUserId } from '../shared/access.js';
import { requireUuid } from '../shared/validation.js';
import type { EvidenceRow, EvidenceStorage } from './evidence-storage.js';
import { MediaTypeMismatchError, sniffing } from './media-sniff.js';

/** Upload URLs live this long: enough to start a large upload, short enough that a leaked one is stale. */
export const UPLOAD_TTL_MS = 10 * 60_000;
/** Where the upload route is mounted, on the subgraph and (passed through) on the gateway. */
export const UPLOADS_PREFIX = '/uploads/';

/** 32 random bytes, base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export const EvidenceErrorCode = {
  /** The request lacks a mandatory evidence type (submission refused). */
  EVIDENCE_MISSING: 'EVIDENCE_MISSING',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  CONTENT_TOO_LARGE: 'CONTENT_TOO_LARGE',
} as const;

/** A refused PUT on an upload URL: the HTTP status and a stable code for the JSON answer. */
export class UploadRefusedError extends DomainError {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 410 | 413 | 415,
    code: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'UploadRefusedError';
  }
}

const fileName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  // A name for people (shown to auditors, offered on download), never a path.
  .refine(
    (name) => ![...name].some((char) => char < ' ' || char === '\u007f' || char === '/' || char === '\\'),
    'must not contain slashes or control characters',
  );

/** `type/subtype` lower-cased, parameters dropped: what programmes list in `mediaTypes`. */
export function mediaTypeEssence(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

type EvidenceRequirement = ProgrammeRow['evidenceTypes'][number];

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface EvidenceManagerDeps {
  evidence: EvidenceStorage;
  requests: RequestsStorage;
  programmes: ProgrammesStorage;
  content: ContentStore;
  /** The gateway's public origin: upload and download URLs point there. */
  publicUrl: string;
  now?: () => Date;
}

export interface UploadTicket {
  url: string;
  expiresAt: Date;
  maxBytes: number;
}

export interface ReceivedUpload {
  /** Content-Type of the PUT. */
  contentType: string | undefined;
  /** Content-Length of the PUT, when the client sent one. */
  contentLength: number | undefined;
  body: AsyncIterable<Uint8Array>;
}

export function createEvidenceManager(deps: EvidenceManagerDeps) {
  const now = deps.now ?? (() => new Date());
  const base = deps.publicUrl.replace(/\/+$/, '');

  async function load(
    id: string,
  ): Promise<{ request: RequestRow; programme: ProgrammeRow; auditorIds: string[] }> {
    requireUuid(id, 'certification request', 'requestId');
    const [request] = await deps.requests.findByIds([id]);
    if (!request)
      throw new DomainError(ErrorCode.NOT_FOUND, `No certification request with id "${id}"`, 'requestId');
    const [[programme], auditors] = await Promise.all([
      deps.programmes.findByIds([request.programmeId]),
      deps.programmes.findAuditors([request.programmeId]),
    ]);
    if (!programme) throw new Error(`Programme ${request.programmeId} of request ${id} is missing`);
    return { request, programme, auditorIds: auditors.map((row) => row.auditorId) };
  }

  function requirementOf(
    programme: ProgrammeRow,
    key: string | undefined,
    mediaType: string,
  ): EvidenceRequirement {
    if (key === undefined) {
      // Without a key: the one evidence type this document can be (by media type), if there is exactly one.
      const fitting = programme.evidenceTypes.filter((item) =>
        item.mediaTypes.some(
          (accepted) => accepted.toLowerCase() === (mediaType.split(';')[0] ?? '').trim().toLowerCase(),
        ),
      );
      const only =
        fitting.length === 1
          ? fitting[0]
          : programme.evidenceTypes.length === 1
            ? programme.evidenceTypes[0]
            : undefined;
      if (only) return only;
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `Name the evidence type (evidenceKey): this programme asks for ${programme.evidenceTypes.map((item) => item.key).join(', ') || 'no evidence'}`,
        'evidenceKey',
      );
    }
    const requirement = programme.evidenceTypes.find((item) => item.key === key);
    if (!requirement) {
      const keys = programme.evidenceTypes.map((item) => item.key);
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        keys.length > 0
          ? `"${key}" is not evidence this programme asks for (expected ${keys.join(', ')})`
          : 'This programme asks for no evidence',
        'evidenceKey',
      );
    }
    return requirement;
  }

  /** Mandatory evidence types the request has no document for. */
  async function missingEvidence(
    request: RequestRow,
    programme: ProgrammeRow,
  ): Promise<EvidenceRequirement[]> {
    const present = new Set((await deps.evidence.findByRequests([request.id])).map((row) => row.evidenceKey));
    return programme.evidenceTypes.filter((item) => item.mandatory && !present.has(item.key));
  }

  return {
    /**
     * A short-lived, single-use URL through the gateway that accepts one document for one evidence type of
     * the caller's DRAFT request. Only the SHA-256 of the token is stored.
     */
    async createUpload(
      principal: Principal,
      args: {
        requestId: string;
        evidenceKey?: string | null;
        fileName: string;
        mediaType: string;
        size: number;
      },
    ): Promise<UploadTicket> {
      const userId = signedInUserId(principal);
      const { request, programme, auditorIds } = await load(args.requestId);
      if (request.requesterId !== userId) {
        if (canSeeRequest(principal, request, auditorIds))
          throw new DomainError(ErrorCode.FORBIDDEN, 'Only the requester attaches evidence', 'requestId');
        throw new DomainError(
          ErrorCode.NOT_FOUND,
          `No certification request with id "${args.requestId}"`,
          'requestId',
        );
      }
      if (request.status !== 'DRAFT')
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `Evidence is attached while the request is DRAFT; it is ${request.status}`,
          'requestId',
        );
      const requirement = requirementOf(programme, args.evidenceKey ?? undefined, args.mediaType);
      const name = fileName.safeParse(args.fileName);
      if (!name.success)
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `fileName: ${name.error.issues[0]?.message}`,
          'fileName',
        );
      const mediaType = mediaTypeEssence(args.mediaType);
      if (!requirement.mediaTypes.includes(mediaType))
        throw new DomainError(
          EvidenceErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `${requirement.label} must be ${requirement.mediaTypes.join(' or ')}, not "${args.mediaType}"`,
          'mediaType',
        );
      if (!Number.isSafeInteger(args.size) || args.size < 1)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'size must be a positive number of bytes', 'size');
      if (args.size > requirement.maxBytes)
        throw new DomainError(
          EvidenceErrorCode.CONTENT_TOO_LARGE,
          `${requirement.label} may be at most ${requirement.maxBytes} bytes`,
          'size',
        );
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now().getTime() + UPLOAD_TTL_MS);
      await deps.evidence.insertUpload({
        tokenHash: hashToken(token),
        requestId: request.id,
        requesterId: userId,
        evidenceKey: requirement.key,
        fileName: name.data,
        mediaType,
        size: args.size,
        expiresAt,
      });
      return { url: `${base}${UPLOADS_PREFIX}${token}`, expiresAt, maxBytes: requirement.maxBytes };
    },

    /**
     * The bytes PUT on an upload URL: checked against what the URL was issued for (type, exact size, the
     * first bytes for PDFs and images), streamed into the content store, recorded on the request (replacing
     * an earlier document for the same key). Header mistakes are refused before the token is spent; once
     * bytes are read, the URL is used up whatever happens. Throws UploadRefusedError.
     */
    async receiveUpload(token: string, upload: ReceivedUpload): Promise<EvidenceRow> {
      if (!TOKEN.test(token))
        throw new UploadRefusedError(
          401,
          'INVALID_UPLOAD_TOKEN',
          'This is not an upload URL issued by Symbeon',
        );
      const at = now();
      const tokenHash = hashToken(token);
      const issued = await deps.evidence.findUpload(tokenHash);
      if (!issued) throw new UploadRefusedError(404, ErrorCode.NOT_FOUND, 'Unknown upload URL');
      if (issued.usedAt || issued.expiresAt <= at)
        throw new UploadRefusedError(
          410,
          'UPLOAD_URL_GONE',
          'This upload URL was already used or has expired; ask for a new one',
        );
      const contentType = mediaTypeEssence(upload.contentType);
      if (contentType !== issued.mediaType)
        throw new UploadRefusedError(
          415,
          EvidenceErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `This URL accepts ${issued.mediaType}; the request said ${upload.contentType ?? 'nothing'}`,
        );
      if (upload.contentLength !== undefined && upload.contentLength > issued.size)
        throw new UploadRefusedError(
          413,
          EvidenceErrorCode.CONTENT_TOO_LARGE,
          `This URL accepts exactly ${issued.size} bytes (as declared)`,
        );
      if (upload.contentLength !== undefined && upload.contentLength !== issued.size)
        throw new UploadRefusedError(
          400,
          'SIZE_MISMATCH',
          `This URL accepts exactly ${issued.size} bytes (as declared), not ${upload.contentLength}`,
        );

      const claimed = await deps.evidence.claimUpload(tokenHash, at);
      if (claimed === 'unknown') throw new UploadRefusedError(404, ErrorCode.NOT_FOUND, 'Unknown upload URL');
      if (claimed === 'spent')
        throw new UploadRefusedError(
          410,
          'UPLOAD_URL_GONE',
          'This upload URL was already used or has expired',
        );
      const { request, programme } = await load(claimed.requestId);
      if (request.status !== 'DRAFT')
        throw new UploadRefusedError(
          403,
          'REQUEST_NOT_DRAFT',
          `The request is ${request.status}: evidence is closed`,
        );
      // The programme may have changed since the URL was issued: its current rules apply.
      const requirement = programme.evidenceTypes.find((item) => item.key === claimed.evidenceKey);
      if (!requirement)
        throw new UploadRefusedError(
          403,
          'EVIDENCE_NOT_REQUIRED',
          'The programme no longer asks for this evidence',
        );
      if (!requirement.mediaTypes.includes(claimed.mediaType))
        throw new UploadRefusedError(
          415,
          EvidenceErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `${requirement.label} must now be ${requirement.mediaTypes.join(' or ')}`,
        );
      const limit = Math.min(claimed.size, requirement.maxBytes);
      let stored;
      try {
        stored = await deps.content.add(sniffing(upload.body, claimed.mediaType), {
          mediaType: claimed.mediaType,
          maxBytes: limit,
        });
      } catch (error) {
        if (error instanceof ContentTooLargeError)
          throw new UploadRefusedError(
            413,
            EvidenceErrorCode.CONTENT_TOO_LARGE,
            `More than the ${limit} bytes this URL accepts; nothing was stored`,
          );
        if (error instanceof MediaTypeMismatchError)
          throw new UploadRefusedError(
            415,
            EvidenceErrorCode.UNSUPPORTED_MEDIA_TYPE,
            `${error.message}; nothing was stored`,
          );
        throw error;
      }
      if (stored.size !== claimed.size)
        throw new UploadRefusedError(
          400,
          'SIZE_MISMATCH',
          `Received ${stored.size} bytes, but ${claimed.size} were declared; the document was not attached`,
        );
      const recorded = await deps.evidence.recordEvidence({
        requestId: claimed.requestId,
        evidenceKey: claimed.evidenceKey,
        fileName: claimed.fileName,
        cid: stored.cid,
        sha256: stored.sha256,
        size: stored.size,
        mediaType: claimed.mediaType,
        uploadedBy: claimed.requesterId,
      });
      if (recorded === 'not-draft')
        throw new UploadRefusedError(
          403,
          'REQUEST_NOT_DRAFT',
          'The request was submitted meanwhile: evidence is closed',
        );
      return recorded;
    },

    /**
     * The submission guard (DRAFT → SUBMITTED): every mandatory evidence type has a document. Only judged
     * for the requester's DRAFT; anything else is left to the transition's own refusals.
     */
    async requireCompleteEvidence(principal: Principal, requestId: string): Promise<void> {
      if (principal.kind === 'anonymous') return;
      const [request] = await deps.requests.findByIds([
        requireUuid(requestId, 'certification request', 'id'),
      ]);
      if (request?.status !== 'DRAFT' || request.requesterId !== principal.userId) return;
      const [programme] = await deps.programmes.findByIds([request.programmeId]);
      if (!programme) return;
      const missing = await missingEvidence(request, programme);
      if (missing.length > 0)
        throw new DomainError(
          EvidenceErrorCode.EVIDENCE_MISSING,
          `Attach ${missing.map((item) => `${item.label} (${item.key})`).join(', ')} before submitting`,
          'id',
        );
    },

    /** The gateway URL of a stored file. */
    contentUrl: (cid: string) => `${base}/ipfs/${cid}`,
  };
}

export type EvidenceManager = ReturnType<typeof createEvidenceManager>;
