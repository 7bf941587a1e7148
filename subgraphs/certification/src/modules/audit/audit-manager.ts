import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, type ContentStore, type Logger, type Principal } from '@symbeon/kernel';
import type { EvidenceStorage } from '../evidence/evidence-storage.js';
import type { ProgrammeRow, ProgrammesStorage } from '../programmes/programmes-storage.js';
import type { RequestState } from '../requests/request-states.js';
import {
  capacitiesOf,
  INVALID_TRANSITION,
  systemActor,
  type RequestsManager,
} from '../requests/requests-manager.js';
import type { RequestRow, RequestsStorage } from '../requests/requests-storage.js';
import {
  BUILT_IN_CHECKS,
  BUILT_IN_KEYS,
  checklistItem,
  evidenceIntact,
  evidencePresent,
  mediaTypesValid,
  pdfsParse,
  prerequisitesComplete,
  readDocument,
  type BuiltInCheck,
} from './audit-checks.js';
import { isUuid } from '../shared/validation.js';
import type { AuditCheckResult, AuditRow, AuditStorage } from './audit-storage.js';

/** The name the audit's transitions carry in the trail. */
export const AUDIT_ACTOR = 'automated-audit';
export const AUDIT_REPORT_VERSION = 1;

export type AuditOutcome =
  | { outcome: 'PASSED' | 'FAILED'; reportCid: string; status: RequestState }
  | { outcome: 'SKIPPED'; status: RequestState | null; reason: string };

export interface AuditManagerDeps {
  audits: AuditStorage;
  evidence: EvidenceStorage;
  requests: RequestsStorage;
  programmes: ProgrammesStorage;
  transitions: Pick<RequestsManager, 'transition'>;
  content: ContentStore;
  logger: Logger;
  /** The gateway URL of a stored file (reports are served at /ipfs/<cid>). */
  contentUrl: (cid: string) => string;
}

class RunSupersededError extends Error {
  constructor() {
    super('another run of this audit took it over');
  }
}

/** The trail keeps reasons of at most 2,000 characters; the report has everything. */
const truncate = (text: string) => (text.length > 2000 ? `${text.slice(0, 1999)}…` : text);

/** A transition another run (or a person) already made or made impossible: not this run's error. */
const lostRace = (error: unknown) =>
  error instanceof DomainError && (error.code === ErrorCode.CONFLICT || error.code === INVALID_TRANSITION);

export function createAuditManager(deps: AuditManagerDeps) {
  const actor = systemActor(AUDIT_ACTOR);

  async function reload(id: string): Promise<RequestRow | undefined> {
    const [row] = await deps.requests.findByIds([id]);
    return row;
  }

  /** Applies a system move; a lost race is fine when the request is where it should go anyway. */
  async function move(
    request: RequestRow,
    to: RequestState,
    options: { reason?: string; evidence?: unknown } = {},
  ): Promise<RequestRow> {
    try {
      return await deps.transitions.transition(request.id, to, { actor, ...options });
    } catch (error) {
      if (!lostRace(error)) throw error;
      return (await reload(request.id)) ?? request;
    }
  }

  /** Every check of the programme, in order: the built-in ones, then the checklist's others. */
  function plan(programme: ProgrammeRow): AuditCheckResult[] {
    const builtIn = BUILT_IN_KEYS.map((key) => {
      const item = checklistItem(programme, key);
      return {
        key,
        label: item?.label ?? BUILT_IN_CHECKS[key],
        mandatory: item?.mandatory ?? true,
        passed: null,
        detail: 'Pending',
      };
    });
    const manual = programme.auditChecklist
      .filter((item) => !(BUILT_IN_KEYS as string[]).includes(item.key))
      .map((item) => ({
        key: item.key,
        label: item.label,
        mandatory: item.mandatory,
        passed: null,
        detail: 'Not evaluated automatically: for the auditor to judge',
      }));
    return [...builtIn, ...manual];
  }

  /**
   * Every check over the request's documents, reporting progress (0-99) and the checks so far after each
   * step; `progress` throws to stop the run (another run took it over).
   */
  async function evaluate(
    request: RequestRow,
    programme: ProgrammeRow,
    progress: (percent: number, checks: AuditCheckResult[]) => Promise<void>,
  ) {
    const checks = plan(programme);
    const documents = await deps.evidence.findByRequests([request.id]);
    const total = BUILT_IN_KEYS.length + documents.length + 1;
    let done = 0;
    const record = async (
      key: BuiltInCheck | null,
      verdict?: Pick<AuditCheckResult, 'passed' | 'detail' | 'evidence'>,
    ) => {
      if (key && verdict) {
        const index = checks.findIndex((check) => check.key === key);
        checks[index] = { ...checks[index]!, ...verdict };
      }
      done++;
      await progress(Math.min(99, Math.floor((done / total) * 100)), checks);
    };

    await record('evidence_present', evidencePresent(programme, documents));
    const readings = [];
    for (const document of documents) {
      readings.push(await readDocument(deps.content, document));
      await record(null);
    }
    await record('evidence_intact', evidenceIntact(readings));
    await record('media_types_valid', mediaTypesValid(programme, readings));
    await record('pdf_parses', await pdfsParse(readings));
    const completions = await deps.audits.findCompletions(
      request.requesterId,
      programme.prerequisiteCourseIds,
    );
    await record('prerequisites_complete', prerequisitesComplete(programme, completions));
    return { checks, documents };
  }

  /** The report (JSON) in the content store, pinned; its CID. */
  async function storeReport(facts: {
    kind: string;
    request: RequestRow;
    programme: ProgrammeRow;
    startedAt: Date;
    passed: boolean;
    checks: AuditCheckResult[];
    documents: Awaited<ReturnType<typeof evaluate>>['documents'];
    extra?: Record<string, unknown>;
  }): Promise<{ cid: string }> {
    const { request, programme } = facts;
    const report = {
      version: AUDIT_REPORT_VERSION,
      kind: facts.kind,
      requestId: request.id,
      programme: { id: programme.id, slug: programme.slug, name: programme.name },
      requesterId: request.requesterId,
      ...facts.extra,
      startedAt: facts.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      passed: facts.passed,
      checks: facts.checks,
      documents: facts.documents.map((row) => ({
        key: row.evidenceKey,
        fileName: row.fileName,
        cid: row.cid,
        sha256: row.sha256,
        size: row.size,
        mediaType: row.mediaType,
        uploadedAt: row.uploadedAt.toISOString(),
      })),
    };
    const stored = await deps.content.add(Buffer.from(JSON.stringify(report, null, 2)), {
      mediaType: 'application/json',
    });
    await deps.content.pin(stored.cid);
    return stored;
  }

  /**
   * The automated audit again, before a certificate of a programme that requires it is renewed: the same
   * checks over the request's documents (still in the store, still matching their hashes; prerequisites still
   * complete; a checklist changed since is applied), a report of kind renewal-audit-report, and the verdict
   * announced (RenewalAuditPassed → the lifecycle sends the renewal to the chain). No request transition:
   * the request stays RENEWAL_DUE (or ISSUED/RENEWED) meanwhile. Idempotent per term: a finished audit is
   * not run again unless asked again.
   */
  async function reauditForRenewal(certificateId: string, termExpiresAt: Date) {
    const certificate = await deps.audits.certificateForRenewal(certificateId);
    if (!certificate) return { outcome: 'SKIPPED' as const, reason: 'no such certificate' };
    const claimed = await deps.audits.claimRenewalAudit(certificateId, termExpiresAt);
    if (!claimed) return { outcome: 'SKIPPED' as const, reason: 'the renewal audit is not queued' };
    const request = await reload(certificate.requestId);
    if (!request)
      throw new Error(`Request ${certificate.requestId} of certificate ${certificateId} is missing`);
    const [programme] = await deps.programmes.findByIds([request.programmeId]);
    if (!programme) throw new Error(`Programme ${request.programmeId} is missing`);
    const startedAt = new Date();
    const { checks, documents } = await evaluate(request, programme, (_percent, checks) =>
      deps.audits.reportRenewalProgress(certificateId, termExpiresAt, checks),
    );
    const failed = checks.filter((check) => check.mandatory && check.passed === false);
    const stored = await storeReport({
      kind: 'symbeon.certification.renewal-audit-report',
      request,
      programme,
      startedAt,
      passed: failed.length === 0,
      checks,
      documents,
      extra: { certificateId, termExpiresAt: termExpiresAt.toISOString() },
    });
    const status = failed.length === 0 ? 'PASSED' : 'FAILED';
    await deps.audits.finishRenewalAudit(certificateId, termExpiresAt, {
      status,
      checks,
      reportCid: stored.cid,
    });
    deps.logger.info({ certificateId, outcome: status, reportCid: stored.cid }, 'renewal audit done');
    return { outcome: status, reportCid: stored.cid };
  }

  async function run(requestId: string): Promise<AuditOutcome> {
    let request = await reload(requestId);
    if (!request) return { outcome: 'SKIPPED', status: null, reason: 'no such request' };
    if (request.status === 'SUBMITTED') request = await move(request, 'AUDITING');
    if (request.status !== 'AUDITING')
      return { outcome: 'SKIPPED', status: request.status, reason: `the request is ${request.status}` };
    const [programme] = await deps.programmes.findByIds([request.programmeId]);
    if (!programme) throw new Error(`Programme ${request.programmeId} of request ${request.id} is missing`);

    const runId = randomUUID();
    let audit: AuditRow | undefined = await deps.audits.claim(request.id, runId);
    // A finished audit whose verdict was not applied (the process stopped in between): apply it, do not redo it.
    if (audit.status !== 'PASSED' && audit.status !== 'FAILED') {
      const startedAt = new Date();
      let evaluated;
      try {
        evaluated = await evaluate(request, programme, async (percent, checks) => {
          if (!(await deps.audits.reportProgress(request.id, runId, percent, checks)))
            throw new RunSupersededError();
        });
      } catch (error) {
        if (error instanceof RunSupersededError)
          return { outcome: 'SKIPPED', status: request.status, reason: 'another run took the audit over' };
        throw error;
      }
      const { checks, documents } = evaluated;
      const failed = checks.filter((check) => check.mandatory && check.passed === false);
      const stored = await storeReport({
        kind: 'symbeon.certification.audit-report',
        request,
        programme,
        startedAt,
        passed: failed.length === 0,
        checks,
        documents,
      });
      audit = await deps.audits.finish(request.id, runId, {
        status: failed.length === 0 ? 'PASSED' : 'FAILED',
        checks,
        reportCid: stored.cid,
      });
      if (!audit)
        return { outcome: 'SKIPPED', status: request.status, reason: 'another run took the audit over' };
    }

    const verdict = audit.status === 'PASSED' ? 'PASSED' : 'FAILED';
    const reportCid = audit.reportCid!;
    const failed = audit.checks.filter((check) => check.mandatory && check.passed === false);
    const evidence = {
      reportCid,
      reportUrl: deps.contentUrl(reportCid),
      failed: failed.map((check) => check.key),
    };
    const moved =
      verdict === 'PASSED'
        ? await move(request, 'AWAITING_REVIEW', { evidence })
        : await move(request, 'AUTO_REJECTED', {
            reason: truncate(
              `Automated audit failed: ${failed.map((check) => `${check.label}: ${check.detail}`).join('; ')}`,
            ),
            evidence,
          });
    deps.logger.info(
      { requestId, outcome: verdict, reportCid, status: moved.status },
      'automated audit done',
    );
    return { outcome: verdict, reportCid, status: moved.status };
  }

  return {
    run,
    reauditForRenewal,

    /** The renewal audit's job failed every attempt: ERROR (the holder may ask for the renewal again). */
    async giveUpRenewal(certificateId: string, termExpiresAt: Date, error: unknown): Promise<void> {
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.error({ certificateId, err: error }, 'renewal audit failed for good');
      await deps.audits.finishRenewalAudit(certificateId, termExpiresAt, { status: 'ERROR', error: message });
    },

    /**
     * Runs an audit that gave up (ERROR: its job failed every attempt, e.g. the content store was down) once
     * more, for an administrator or an auditor assigned to the programme. The request stays AUDITING
     * meanwhile; nothing else changes. INVALID_STATE when there is nothing to retry.
     */
    async retry(principal: Principal, requestId: string): Promise<RequestRow> {
      const notFound = new DomainError(
        ErrorCode.NOT_FOUND,
        `No certification request with id "${requestId}"`,
        'id',
      );
      const request = isUuid(requestId) ? await reload(requestId) : undefined;
      if (!request) throw notFound;
      const auditorIds = (await deps.programmes.findAuditors([request.programmeId])).map(
        (row) => row.auditorId,
      );
      const capacities = capacitiesOf(principal, request, auditorIds);
      if (!capacities.has('ADMIN') && !capacities.has('AUDITOR')) {
        // The requester learns nothing new from this error; strangers learn nothing at all.
        if (capacities.has('REQUESTER'))
          throw new DomainError(
            ErrorCode.FORBIDDEN,
            "Only an administrator or an auditor assigned to the request's programme can retry its audit",
          );
        throw notFound;
      }
      const audit = await deps.audits.find(requestId);
      if (request.status !== 'AUDITING' || audit?.status !== 'ERROR')
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `Only an audit that gave up can be retried (the request is ${request.status}, its audit ${audit?.status ?? 'not started'})`,
        );
      if (!(await deps.audits.requeueAfterError(requestId)))
        throw new DomainError(ErrorCode.CONFLICT, 'The audit was retried meanwhile');
      deps.logger.info({ requestId }, 'automated audit retry requested');
      return request;
    },

    /** Called when the job's last attempt failed: the audit shows ERROR, the request stays AUDITING. */
    async giveUp(requestId: string, error: unknown): Promise<void> {
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.error({ requestId, err: error }, 'automated audit failed for good');
      await deps.audits.markError(requestId, message);
    },
  };
}

export type AuditManager = ReturnType<typeof createAuditManager>;
