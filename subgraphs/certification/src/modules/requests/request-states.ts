/**
 * The certification request's state machine: every state, and the ONE table of transitions allowed between
 * them, each naming who may make it and its guard. Nothing else decides whether a request may move; the
 * manager looks a move up here, checks the actor and the guard, and applies it with a conditional update.
 */

export const REQUEST_STATES = [
  'DRAFT',
  'SUBMITTED',
  'AUDITING',
  'AWAITING_REVIEW',
  'APPROVED',
  'AWAITING_PAYMENT',
  'ISSUING',
  'ISSUED',
  'REJECTED',
  'AUTO_REJECTED',
  'CANCELLED',
  'RENEWAL_DUE',
  'RENEWED',
  'EXPIRED',
  'REVOKED',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/**
 * In what capacity an actor makes a transition. REQUESTER: the user who opened the request. AUDITOR: a user
 * with the AUDITOR role assigned to the request's programme. ADMIN: a user with the ADMIN role. SYSTEM: the
 * platform's own jobs and event consumers (audit, payment gate, issuance, expiry); never a GraphQL caller.
 */
export const ACTOR_KINDS = ['REQUESTER', 'AUDITOR', 'ADMIN', 'SYSTEM'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/**
 * Conditions checked against the request and its programme before a transition is applied.
 * - reason: a non-empty reason (a comment, the audit's findings) is required, e.g. for every rejection.
 * - published: the programme still accepts requests (PUBLISHED, not DRAFT or ARCHIVED).
 * - priced / free: the programme has a price, or none (the payment gate).
 */
export type Guard = 'reason' | 'published' | 'priced' | 'free';

export interface TransitionRule {
  from: RequestState;
  to: RequestState;
  by: readonly ActorKind[];
  guards?: readonly Guard[];
  /**
   * The specific event announcing this transition (besides the generic CertificationRequestTransitioned
   * every transition writes), where a later step hooks in.
   */
  announces?: string;
}

/** Event types in the outbox (published on the bus as is). */
export const RequestEvents = {
  Created: 'certification.CertificationRequestCreated',
  Transitioned: 'certification.CertificationRequestTransitioned',
  /** Starts the automated audit (next step of issue 5). */
  Submitted: 'certification.CertificationRequestSubmitted',
  /** The payment gate / issuance react to it. */
  Approved: 'certification.CertificationRequestApproved',
  Rejected: 'certification.CertificationRequestRejected',
  AutoRejected: 'certification.CertificationRequestAutoRejected',
  Cancelled: 'certification.CertificationRequestCancelled',
  /** Issuance (metadata to IPFS, chain asked to issue) starts on it. */
  IssuanceRequested: 'certification.CertificationIssuanceRequested',
  Issued: 'certification.CertificationRequestIssued',
  Expired: 'certification.CertificationRequestExpired',
  Revoked: 'certification.CertificationRequestRevoked',
} as const;

const CANCELLABLE_BY = ['REQUESTER', 'ADMIN'] as const;
const LIVE_CERTIFICATE = ['ISSUED', 'RENEWAL_DUE', 'RENEWED'] as const;

export const TRANSITIONS: readonly TransitionRule[] = [
  // The requester prepares and submits; the automated audit takes it from there.
  {
    from: 'DRAFT',
    to: 'SUBMITTED',
    by: ['REQUESTER'],
    guards: ['published'],
    announces: RequestEvents.Submitted,
  },
  { from: 'DRAFT', to: 'CANCELLED', by: CANCELLABLE_BY, announces: RequestEvents.Cancelled },
  { from: 'SUBMITTED', to: 'AUDITING', by: ['SYSTEM'] },
  { from: 'SUBMITTED', to: 'CANCELLED', by: CANCELLABLE_BY, announces: RequestEvents.Cancelled },
  // The automated audit's verdict.
  { from: 'AUDITING', to: 'AWAITING_REVIEW', by: ['SYSTEM'] },
  {
    from: 'AUDITING',
    to: 'AUTO_REJECTED',
    by: ['SYSTEM'],
    guards: ['reason'],
    announces: RequestEvents.AutoRejected,
  },
  // The assigned auditor's decision.
  { from: 'AWAITING_REVIEW', to: 'APPROVED', by: ['AUDITOR'], announces: RequestEvents.Approved },
  {
    from: 'AWAITING_REVIEW',
    to: 'REJECTED',
    by: ['AUDITOR'],
    guards: ['reason'],
    announces: RequestEvents.Rejected,
  },
  { from: 'AWAITING_REVIEW', to: 'CANCELLED', by: CANCELLABLE_BY, announces: RequestEvents.Cancelled },
  // The payment gate: priced programmes wait for PaymentSettled, free ones go straight to issuance.
  { from: 'APPROVED', to: 'AWAITING_PAYMENT', by: ['SYSTEM'], guards: ['priced'] },
  {
    from: 'APPROVED',
    to: 'ISSUING',
    by: ['SYSTEM'],
    guards: ['free'],
    announces: RequestEvents.IssuanceRequested,
  },
  { from: 'AWAITING_PAYMENT', to: 'ISSUING', by: ['SYSTEM'], announces: RequestEvents.IssuanceRequested },
  { from: 'AWAITING_PAYMENT', to: 'CANCELLED', by: CANCELLABLE_BY, announces: RequestEvents.Cancelled },
  // The chain reports CertificateIssued.
  { from: 'ISSUING', to: 'ISSUED', by: ['SYSTEM'], announces: RequestEvents.Issued },
  // A chain reorganisation undid the block that issued it: back to waiting for the chain (it is usually mined
  // again, and CertificateIssued makes it ISSUED again).
  { from: 'ISSUED', to: 'ISSUING', by: ['SYSTEM'], guards: ['reason'] },
  // The certificate's life: renewal window, renewal on chain, expiry, revocation.
  { from: 'ISSUED', to: 'RENEWAL_DUE', by: ['SYSTEM'] },
  { from: 'RENEWAL_DUE', to: 'RENEWED', by: ['SYSTEM'] },
  { from: 'RENEWED', to: 'RENEWAL_DUE', by: ['SYSTEM'] },
  ...LIVE_CERTIFICATE.map((from): TransitionRule => ({
    from,
    to: 'EXPIRED',
    by: ['SYSTEM'],
    announces: RequestEvents.Expired,
  })),
  ...LIVE_CERTIFICATE.map((from): TransitionRule => ({
    from,
    to: 'REVOKED',
    by: ['ADMIN', 'SYSTEM'],
    guards: ['reason'],
    announces: RequestEvents.Revoked,
  })),
];

export function findTransition(from: RequestState, to: RequestState): TransitionRule | undefined {
  return TRANSITIONS.find((rule) => rule.from === from && rule.to === to);
}

/**
 * States that still count as the user's request for a programme: at most one per user and programme (a
 * partial unique index enforces it). A user whose request ended (rejected, cancelled) or whose certificate
 * ended (expired, revoked) may open a new one; a live certificate is renewed, not requested again.
 */
export const OPEN_STATES: readonly RequestState[] = REQUEST_STATES.filter(
  (state) => !['REJECTED', 'AUTO_REJECTED', 'CANCELLED', 'EXPIRED', 'REVOKED'].includes(state),
);
