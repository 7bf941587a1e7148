import { z } from 'zod';
import {
  DomainError,
  ErrorCode,
  decodeCursor,
  pageSize,
  toConnection,
  type Principal,
} from '@symbeon/kernel';
import type { ProgrammeRow, ProgrammesStorage } from '../programmes/programmes-storage.js';
import { hasRole, isAdmin, signedInUserId } from '../shared/access.js';
import { isUuid, requireUuid } from '../shared/validation.js';
import {
  TRANSITIONS,
  findTransition,
  type ActorKind,
  type Guard,
  type RequestState,
  type TransitionRule,
} from './request-states.js';
import type { RecordedActor, RequestRow, RequestsStorage } from './requests-storage.js';

/** The refusal of a move the state machine does not have. */
export const INVALID_TRANSITION = 'INVALID_TRANSITION';

/** The platform itself (a job, an event consumer): never a GraphQL caller. */
export interface SystemActor {
  kind: 'SYSTEM';
  /** What acts, recorded in the trail: e.g. `audit-job`, `payments-consumer`. */
  name: string;
}

export const systemActor = (name: string): SystemActor => ({ kind: 'SYSTEM', name });

export type Actor = SystemActor | Principal;

export interface TransitionOptions {
  actor: Actor;
  reason?: string | null;
  /** JSON recorded with the trail entry (an audit report's summary, a payment id...). */
  evidence?: unknown;
}

const MAX_REASON = 2000;
const MAX_EVIDENCE_BYTES = 64 * 1024;

const reasonSchema = z
  .string()
  .trim()
  .max(MAX_REASON, `must be at most ${MAX_REASON} characters`)
  .nullable()
  .transform((value) => (value ? value : null));

const isSystem = (actor: Actor): actor is SystemActor => actor.kind === 'SYSTEM';

/**
 * The capacities in which a signed-in caller relates to a request. An auditor counts only with the AUDITOR
 * role (as the gateway vouched for it now) AND an assignment to the request's programme, and never on
 * their own request (nobody reviews themselves).
 */
export function capacitiesOf(
  principal: Principal,
  request: Pick<RequestRow, 'requesterId'>,
  programmeAuditorIds: readonly string[],
): Set<Exclude<ActorKind, 'SYSTEM'>> {
  const capacities = new Set<Exclude<ActorKind, 'SYSTEM'>>();
  if (principal.kind === 'anonymous') return capacities;
  if (principal.userId === request.requesterId) capacities.add('REQUESTER');
  if (
    hasRole(principal, 'AUDITOR') &&
    programmeAuditorIds.includes(principal.userId) &&
    principal.userId !== request.requesterId
  )
    capacities.add('AUDITOR');
  if (isAdmin(principal)) capacities.add('ADMIN');
  return capacities;
}

/**
 * Who may read a request (and its trail): its requester, administrators, and the programme's assigned
 * auditors once it left DRAFT (a draft is the requester's work in progress).
 */
export function canSeeRequest(
  principal: Principal,
  request: Pick<RequestRow, 'requesterId' | 'status'>,
  programmeAuditorIds: readonly string[],
): boolean {
  const capacities = capacitiesOf(principal, request, programmeAuditorIds);
  if (capacities.has('REQUESTER') || capacities.has('ADMIN')) return true;
  return capacities.has('AUDITOR') && request.status !== 'DRAFT';
}

function describeActors(by: readonly ActorKind[]): string {
  const names: Record<ActorKind, string> = {
    REQUESTER: 'the requester',
    AUDITOR: "an auditor assigned to the request's programme",
    ADMIN: 'an administrator',
    SYSTEM: 'the platform',
  };
  return by.map((kind) => names[kind]).join(' or ');
}

function checkGuard(guard: Guard, programme: ProgrammeRow, reason: string | null) {
  switch (guard) {
    case 'reason':
      if (!reason)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give a reason for this decision', 'reason');
      return;
    case 'published':
      if (programme.status !== 'PUBLISHED')
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `The programme is ${programme.status} and does not accept requests`,
        );
      return;
    case 'priced':
      if (programme.priceAmountMinor == null)
        throw new DomainError(ErrorCode.INVALID_STATE, 'The programme is free: nothing to pay');
      return;
    case 'free':
      if (programme.priceAmountMinor != null)
        throw new DomainError(ErrorCode.INVALID_STATE, 'The programme is priced: payment comes first');
      return;
  }
}

function jsonEvidence(evidence: unknown): unknown {
  if (evidence === undefined || evidence === null) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(evidence);
  } catch {
    text = undefined;
  }
  if (text === undefined)
    throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Evidence must be JSON', 'evidence');
  if (Buffer.byteLength(text) > MAX_EVIDENCE_BYTES)
    throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Evidence must be at most 64 KiB of JSON', 'evidence');
  return JSON.parse(text) as unknown;
}

export function createRequestsManager(requests: RequestsStorage, programmes: ProgrammesStorage) {
  async function load(
    id: string,
  ): Promise<{ request: RequestRow; programme: ProgrammeRow; auditorIds: string[] }> {
    requireUuid(id, 'certification request', 'id');
    const [request] = await requests.findByIds([id]);
    if (!request)
      throw new DomainError(ErrorCode.NOT_FOUND, `No certification request with id "${id}"`, 'id');
    const [[programme], auditors] = await Promise.all([
      programmes.findByIds([request.programmeId]),
      programmes.findAuditors([request.programmeId]),
    ]);
    // The foreign key keeps the programme; a missing one is a broken database, not a user error.
    if (!programme) throw new Error(`Programme ${request.programmeId} of request ${id} is missing`);
    return { request, programme, auditorIds: auditors.map((row) => row.auditorId) };
  }

  /**
   * The one way a request changes status: looks the move up in TRANSITIONS, checks the actor and the
   * guards, then applies it only if the request still holds the status it was read in. Refusals change
   * nothing: INVALID_TRANSITION (no such move), FORBIDDEN (wrong actor), BAD_USER_INPUT / INVALID_STATE
   * (a guard), CONFLICT (another transition won the race), NOT_FOUND (no such request, or not the
   * caller's to see).
   */
  async function transition(id: string, to: RequestState, options: TransitionOptions): Promise<RequestRow> {
    const { request, programme, auditorIds } = await load(id);
    const { actor } = options;
    const capacities = isSystem(actor) ? undefined : capacitiesOf(actor, request, auditorIds);
    if (capacities && !canSeeRequest(actor as Principal, request, auditorIds)) {
      throw new DomainError(ErrorCode.NOT_FOUND, `No certification request with id "${id}"`, 'id');
    }
    const rule: TransitionRule | undefined = findTransition(request.status, to);
    if (!rule) {
      const next = TRANSITIONS.filter((item) => item.from === request.status).map((item) => item.to);
      throw new DomainError(
        INVALID_TRANSITION,
        `A certification request cannot go from ${request.status} to ${to}` +
          (next.length > 0
            ? ` (from ${request.status}: ${next.join(', ')})`
            : ` (${request.status} is final)`),
      );
    }
    const kind: ActorKind | undefined = capacities
      ? rule.by.find((item) => item !== 'SYSTEM' && capacities.has(item))
      : rule.by.includes('SYSTEM')
        ? 'SYSTEM'
        : undefined;
    if (!kind) {
      throw new DomainError(
        ErrorCode.FORBIDDEN,
        `Only ${describeActors(rule.by)} may move a certification request from ${rule.from} to ${rule.to}`,
      );
    }
    const reason = reasonSchema.safeParse(options.reason ?? null);
    if (!reason.success) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `reason: ${reason.error.issues[0]?.message}`, 'reason');
    }
    for (const guard of rule.guards ?? []) checkGuard(guard, programme, reason.data);
    const recorded: RecordedActor = isSystem(actor)
      ? { kind: 'SYSTEM', id: null, name: actor.name.slice(0, 200) }
      : { kind, id: (actor as Exclude<Principal, { kind: 'anonymous' }>).userId, name: null };
    const applied = await requests.applyTransition({
      requestId: request.id,
      from: rule.from,
      to: rule.to,
      actor: recorded,
      reason: reason.data,
      evidence: jsonEvidence(options.evidence),
      announce: rule.announces ? [rule.announces] : [],
    });
    if (!applied) {
      throw new DomainError(
        ErrorCode.CONFLICT,
        `The request left ${rule.from} while this change was being made; nothing changed`,
        'id',
      );
    }
    return applied;
  }

  return {
    transition,

    /** Opens a DRAFT request for the caller on a published programme: one open request per programme. */
    async createRequest(principal: Principal, programmeId: string): Promise<RequestRow> {
      const requesterId = signedInUserId(principal);
      const [programme] = isUuid(programmeId) ? await programmes.findByIds([programmeId]) : [];
      if (!programme || (programme.status === 'DRAFT' && !isAdmin(principal))) {
        throw new DomainError(ErrorCode.NOT_FOUND, `No programme with id "${programmeId}"`, 'programmeId');
      }
      if (programme.status !== 'PUBLISHED') {
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `The programme is ${programme.status} and does not accept requests`,
          'programmeId',
        );
      }
      const row = await requests.insertRequest(programme.id, requesterId);
      if (row === 'open-exists') {
        throw new DomainError(
          ErrorCode.CONFLICT,
          'You already have an open request for this programme',
          'programmeId',
        );
      }
      return row;
    },

    submit: (principal: Principal, id: string) => transition(id, 'SUBMITTED', { actor: principal }),

    cancel: (principal: Principal, id: string, reason?: string | null) =>
      transition(id, 'CANCELLED', { actor: principal, reason: reason ?? null }),

    /** The assigned auditor's decision on a request AWAITING_REVIEW; a rejection needs a comment. */
    review: (principal: Principal, id: string, decision: 'APPROVE' | 'REJECT', comment?: string | null) =>
      transition(id, decision === 'APPROVE' ? 'APPROVED' : 'REJECTED', {
        actor: principal,
        reason: comment ?? null,
      }),

    async listMine(principal: Principal, args: { first?: number | null; after?: string | null }) {
      const requesterId = signedInUserId(principal);
      const size = pageSize(args.first);
      let after: { createdAt: Date; id: string } | undefined;
      if (args.after != null) {
        const [createdAt, cursorId] = decodeCursor(args.after, ['string', 'string']) as [string, string];
        after = { createdAt: new Date(createdAt), id: cursorId };
        if (Number.isNaN(after.createdAt.getTime()) || !isUuid(cursorId)) decodeCursor('', ['string']);
      }
      const rows = await requests.listByRequester({ requesterId, limit: size + 1, after });
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], after !== undefined);
    },

    /** Requests AWAITING_REVIEW on the programmes the caller audits, longest waiting first. */
    async reviewQueue(principal: Principal, args: { first?: number | null; after?: string | null }) {
      const auditorId = signedInUserId(principal);
      if (!hasRole(principal, 'AUDITOR'))
        throw new DomainError(ErrorCode.FORBIDDEN, 'The review queue is for auditors');
      const size = pageSize(args.first);
      let after: { statusChangedAt: Date; id: string } | undefined;
      if (args.after != null) {
        const [changedAt, cursorId] = decodeCursor(args.after, ['string', 'string']) as [string, string];
        after = { statusChangedAt: new Date(changedAt), id: cursorId };
        if (Number.isNaN(after.statusChangedAt.getTime()) || !isUuid(cursorId)) decodeCursor('', ['string']);
      }
      const rows = await requests.listReviewQueue({ auditorId, limit: size + 1, after });
      return toConnection(
        rows,
        size,
        (row) => [row.statusChangedAt.toISOString(), row.id],
        after !== undefined,
      );
    },
  };
}

export type RequestsManager = ReturnType<typeof createRequestsManager>;
