import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { eventTables } from '@symbeon/kernel';
import { ACTOR_KINDS, OPEN_STATES, REQUEST_STATES } from '../modules/requests/request-states.js';

export const certification = pgSchema('certification');

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export interface EvidenceRequirement {
  key: string;
  label: string;
  mediaTypes: string[];
  maxBytes: number;
  mandatory: boolean;
}

export interface ChecklistItem {
  key: string;
  label: string;
  mandatory: boolean;
}

export const programmes = certification.table(
  'programmes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull().unique(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    // Validated by the programmes manager (zod) before every write; read back as is.
    evidenceTypes: jsonb('evidence_types').$type<EvidenceRequirement[]>().notNull(),
    auditChecklist: jsonb('audit_checklist').$type<ChecklistItem[]>().notNull(),
    // learning's Course ids; never checked against learning's tables (no cross-schema reads).
    prerequisiteCourseIds: uuid('prerequisite_course_ids')
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    // Both null: free. Minor units of an ISO 4217 currency, never floats.
    priceAmountMinor: integer('price_amount_minor'),
    priceCurrency: text('price_currency'),
    validityDays: integer('validity_days').notNull(),
    issuanceMode: text('issuance_mode', { enum: ['SINGLE', 'MERKLE_BATCH'] }).notNull(),
    // Renewal runs the automated audit again (documents still intact, prerequisites still complete) first.
    renewalRequiresAudit: boolean('renewal_requires_audit').notNull().default(false),
    status: text('status', { enum: ['DRAFT', 'PUBLISHED', 'ARCHIVED'] })
      .notNull()
      .default('DRAFT'),
    // identity's User id of the administrator who created it.
    createdBy: uuid('created_by').notNull(),
    publishedAt: at('published_at'),
    archivedAt: at('archived_at'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    index('programmes_catalogue_idx').on(table.createdAt.desc(), table.id.desc()),
    check(
      'programmes_price',
      sql`(${table.priceAmountMinor} is null) = (${table.priceCurrency} is null) and coalesce(${table.priceAmountMinor}, 1) > 0`,
    ),
    check('programmes_validity_positive', sql`${table.validityDays} > 0`),
  ],
);

/** The auditors assigned to a programme (identity's User ids): the only ones who review its requests. */
export const programmeAuditors = certification.table(
  'programme_auditors',
  {
    programmeId: uuid('programme_id')
      .notNull()
      .references(() => programmes.id, { onDelete: 'cascade' }),
    auditorId: uuid('auditor_id').notNull(),
    assignedAt: at('assigned_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.programmeId, table.auditorId] }),
    index('programme_auditors_auditor_idx').on(table.auditorId),
  ],
);

const stateList = sql.raw(OPEN_STATES.map((state) => `'${state}'`).join(', '));

export const certificationRequests = certification.table(
  'certification_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    programmeId: uuid('programme_id')
      .notNull()
      .references(() => programmes.id),
    // identity's User id of the person asking to be certified.
    requesterId: uuid('requester_id').notNull(),
    // Written only by the requests storage's transition, together with a request_transitions row and the
    // outbox events, and only if it still holds the state the transition starts from.
    status: text('status', { enum: REQUEST_STATES }).notNull().default('DRAFT'),
    statusChangedAt: at('status_changed_at').notNull().defaultNow(),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    // One open request per user and programme (see OPEN_STATES), race-free.
    uniqueIndex('certification_requests_one_open')
      .on(table.requesterId, table.programmeId)
      .where(sql`${table.status} in (${stateList})`),
    index('certification_requests_requester_idx').on(
      table.requesterId,
      table.createdAt.desc(),
      table.id.desc(),
    ),
    index('certification_requests_queue_idx').on(table.programmeId, table.status, table.statusChangedAt),
  ],
);

/** The audit trail: one row per transition, written in the transaction that changes the status. */
export const requestTransitions = certification.table(
  'request_transitions',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => certificationRequests.id),
    // Null for the creation of the request.
    fromStatus: text('from_status', { enum: REQUEST_STATES }),
    toStatus: text('to_status', { enum: REQUEST_STATES }).notNull(),
    actorKind: text('actor_kind', { enum: ACTOR_KINDS }).notNull(),
    // identity's User id; null for SYSTEM (then actorName names the job or consumer).
    actorId: uuid('actor_id'),
    actorName: text('actor_name'),
    reason: text('reason'),
    evidence: jsonb('evidence'),
    at: at('at').notNull().defaultNow(),
  },
  (table) => [
    index('request_transitions_request_idx').on(table.requestId, table.seq),
    check('request_transitions_actor', sql`(${table.actorKind} = 'SYSTEM') = (${table.actorId} is null)`),
  ],
);

/**
 * The users certification knows exist, projected from identity's `identity.UserCreated` events: lets it
 * refuse an unknown auditor without reading identity's tables.
 */
export const knownUsers = certification.table('known_users', {
  userId: uuid('user_id').primaryKey(),
  handle: text('handle').notNull(),
  learnedAt: at('learned_at').notNull().defaultNow(),
});

/**
 * The documents attached to a request, one per evidence type of its programme: a new upload for the same
 * key replaces the row (the old bytes stay in the content store under their CID). Written only by the
 * evidence storage, and only while the request is DRAFT.
 */
export const requestEvidence = certification.table(
  'request_evidence',
  {
    requestId: uuid('request_id')
      .notNull()
      .references(() => certificationRequests.id),
    evidenceKey: text('evidence_key').notNull(),
    fileName: text('file_name').notNull(),
    cid: text('cid').notNull(),
    // Hex SHA-256 of the whole file, as the content store computed it while storing the upload.
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    mediaType: text('media_type').notNull(),
    uploadedBy: uuid('uploaded_by').notNull(),
    uploadedAt: at('uploaded_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.requestId, table.evidenceKey] })],
);

/**
 * Upload URLs handed out by createEvidenceUpload. Only the SHA-256 of the random token is kept (a database
 * leak gives no usable URL); a token is spent by the first PUT that reaches the subgraph (usedAt).
 */
export const evidenceUploads = certification.table(
  'evidence_uploads',
  {
    tokenHash: text('token_hash').primaryKey(),
    purpose: text('purpose', { enum: ['evidence'] })
      .notNull()
      .default('evidence'),
    requestId: uuid('request_id')
      .notNull()
      .references(() => certificationRequests.id),
    requesterId: uuid('requester_id').notNull(),
    evidenceKey: text('evidence_key').notNull(),
    fileName: text('file_name').notNull(),
    mediaType: text('media_type').notNull(),
    // The size the client declared; the upload must be exactly this long.
    size: integer('size').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [index('evidence_uploads_expires_idx').on(table.expiresAt)],
);

/** One automated-audit check as recorded while the audit runs and in its report. */
export interface AuditCheckResult {
  key: string;
  label: string;
  mandatory: boolean;
  /** null: not evaluated automatically (left to the auditor, or not evaluable, see detail). */
  passed: boolean | null;
  detail: string;
  evidence?: unknown;
}

/**
 * The automated audit of a request (one per request: it runs once, after submission). Written only by the
 * audit storage; runId names the job run that owns the row, so a stale run cannot overwrite a newer one.
 */
export const requestAudits = certification.table(
  'request_audits',
  {
    requestId: uuid('request_id')
      .primaryKey()
      .references(() => certificationRequests.id),
    status: text('status', { enum: ['QUEUED', 'RUNNING', 'PASSED', 'FAILED', 'ERROR'] })
      .notNull()
      .default('QUEUED'),
    progress: integer('progress').notNull().default(0),
    checks: jsonb('checks').$type<AuditCheckResult[]>().notNull().default([]),
    runId: uuid('run_id'),
    attempts: integer('attempts').notNull().default(0),
    reportCid: text('report_cid'),
    error: text('error'),
    queuedAt: at('queued_at').notNull().defaultNow(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [check('request_audits_progress', sql`${table.progress} between 0 and 100`)],
);

/**
 * Courses each user completed, projected from learning's `learning.EnrollmentCompleted` events (never read
 * from learning's tables): the audit's prerequisites check.
 */
export const completedCourses = certification.table(
  'completed_courses',
  {
    userId: uuid('user_id').notNull(),
    courseId: uuid('course_id').notNull(),
    completedAt: at('completed_at').notNull(),
    learnedAt: at('learned_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.courseId] })],
);

/**
 * identity's wallets, projected from `identity.WalletLinked`: a certificate's holder is its requester's
 * first linked wallet (proven by a SIWE signature in identity), never an address typed by someone.
 */
export const knownWallets = certification.table(
  'known_wallets',
  {
    // EIP-55 checksummed.
    address: text('address').primaryKey(),
    userId: uuid('user_id').notNull(),
    chainId: integer('chain_id').notNull(),
    linkedAt: at('linked_at').notNull(),
  },
  (table) => [index('known_wallets_user_idx').on(table.userId, table.linkedAt)],
);

/**
 * Payments settled for programmes, projected from payments' `payments.PaymentSettled` (never read from its
 * tables): the payment gate lets the buyer's request AWAITING_PAYMENT for that programme go on to issuance.
 * A payment may settle before the request reaches the gate; it waits here, unclaimed, until one does. One
 * payment pays for one request (request_id unique once claimed).
 */
export const settledPayments = certification.table(
  'settled_payments',
  {
    orderId: uuid('order_id').primaryKey(),
    userId: uuid('user_id').notNull(),
    programmeId: uuid('programme_id').notNull(),
    // Minor units as text: an exact copy of what payments settled, for the trail.
    amountMinor: text('amount_minor').notNull(),
    currency: text('currency').notNull(),
    provider: text('provider').notNull(),
    settledAt: at('settled_at').notNull(),
    requestId: uuid('request_id')
      .unique()
      .references(() => certificationRequests.id),
    claimedAt: at('claimed_at'),
  },
  (table) => [index('settled_payments_unclaimed_idx').on(table.userId, table.programmeId, table.requestId)],
);

/**
 * The automated audit run again before a certificate is renewed, when its programme requires it: one per
 * certificate and term (the expiry being renewed). PASSED lets the renewal go to the chain; FAILED keeps the
 * certificate as it is (the holder may ask again, e.g. once a prerequisite is complete).
 */
export const renewalAudits = certification.table(
  'renewal_audits',
  {
    certificateId: uuid('certificate_id').notNull(),
    termExpiresAt: at('term_expires_at').notNull(),
    status: text('status', { enum: ['QUEUED', 'RUNNING', 'PASSED', 'FAILED', 'ERROR'] })
      .notNull()
      .default('QUEUED'),
    checks: jsonb('checks').$type<AuditCheckResult[]>().notNull().default([]),
    reportCid: text('report_cid'),
    error: text('error'),
    requestedBy: uuid('requested_by'),
    runs: integer('runs').notNull().default(0),
    requestedAt: at('requested_at').notNull().defaultNow(),
    finishedAt: at('finished_at'),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.certificateId, table.termExpiresAt] })],
);

export const CERTIFICATE_STATES = ['ISSUING', 'VALID', 'REVOKED', 'EXPIRED'] as const;
export const BATCH_STATES = ['OPEN', 'ANCHORING', 'ANCHORED'] as const;

/**
 * Merkle batches of certificates (programmes in MERKLE_BATCH mode). Written only by the batches storage: OPEN
 * while members join (certificates.batch_id, one open batch per programme); ANCHORING once closed — tree,
 * proofs, manifest and the anchorBatch command written in one transaction; ANCHORED when the chain reports
 * BatchAnchored for its root.
 */
export const certificateBatches = certification.table(
  'certificate_batches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    programmeId: uuid('programme_id')
      .notNull()
      .references(() => programmes.id),
    status: text('status', { enum: BATCH_STATES }).notNull().default('OPEN'),
    // 0x + 64 lower-case hex, set when the batch closes; uint256(root) is the on-chain batch id.
    merkleRoot: text('merkle_root').unique(),
    size: integer('size').notNull().default(0),
    // The batch manifest on IPFS (root, leaf encoding, every leaf, the tree): anchored as its sha-256 digest.
    manifestCid: text('manifest_cid'),
    // The chain's idempotency key: the batch id.
    commandId: text('command_id'),
    openedAt: at('opened_at').notNull().defaultNow(),
    closedAt: at('closed_at'),
    anchoredAt: at('anchored_at'),
    chainId: integer('chain_id'),
    txHash: text('tx_hash'),
    blockNumber: integer('block_number'),
    // The account that anchored it (held ISSUER_ROLE on the anchor contract).
    anchoredBy: text('anchored_by'),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('certificate_batches_one_open')
      .on(table.programmeId)
      .where(sql`${table.status} = 'OPEN'`),
    index('certificate_batches_status_idx').on(table.status, table.openedAt),
  ],
);

/**
 * One certificate per request. Written by the issuance module: ISSUING when its documents are stored and
 * the chain was asked to issue; VALID once the chain reported CertificateIssued for its token id (BatchAnchored
 * for its batch's root); REVOKED on CertificateRevoked (BatchLeafRevoked). Until the holder's wallet is known
 * the documents are not built (null columns).
 */
export const certificates = certification.table(
  'certificates',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    requestId: uuid('request_id')
      .notNull()
      .unique()
      .references(() => certificationRequests.id),
    programmeId: uuid('programme_id')
      .notNull()
      .references(() => programmes.id),
    // identity's User id (the requester).
    holderId: uuid('holder_id').notNull(),
    // EIP-55; null until the holder's wallet is known.
    holderAddress: text('holder_address'),
    status: text('status', { enum: CERTIFICATE_STATES }).notNull().default('ISSUING'),
    // uint256(sha-256 of the metadata document) as a decimal string; the chain's token id.
    tokenId: text('token_id').unique(),
    metadataCid: text('metadata_cid'),
    credentialCid: text('credential_cid'),
    imageCid: text('image_cid'),
    // The facts written into the documents (issuedAt is the documents' date, not the block's).
    issuedAt: at('issued_at'),
    expiresAt: at('expires_at'),
    // Bumped when the chain must be asked again under a new idempotency key (`<request id>:<attempt>`).
    attempt: integer('attempt').notNull().default(1),
    commandId: text('command_id'),
    chainId: integer('chain_id'),
    txHash: text('tx_hash'),
    blockNumber: integer('block_number'),
    revokedAt: at('revoked_at'),
    revokedReason: text('revoked_reason'),
    // The chain's last word on a command for this certificate that had no effect (chain's ChainCommandFailed):
    // what failed and why, and whether the same command id may be sent again (nothing was sent under it).
    chainError: text('chain_error'),
    chainErrorAt: at('chain_error_at'),
    chainErrorRetryable: boolean('chain_error_retryable'),
    // MERKLE_BATCH programmes: no token (token_id stays null); the certificate is a leaf of an anchored batch.
    batchId: uuid('batch_id').references(() => certificateBatches.id),
    // keccak256(keccak256(abi.encode(holder, metadata sha-256, expiresAt))) (StandardMerkleTree), 0x-hex.
    leaf: text('leaf'),
    // The Merkle proof of the leaf against the batch's root (0x-hex siblings), written when the batch closes.
    proof: jsonb('proof').$type<string[]>(),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    index('certificates_holder_idx').on(table.holderId, table.status),
    uniqueIndex('certificates_batch_leaf').on(table.batchId, table.leaf),
  ],
);

export const { outbox, processedEvents } = eventTables(certification);
