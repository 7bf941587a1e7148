import { codedError, ErrorCode, type Principal } from '@symbeon/kernel';
import type { AuditRow, AuditStorage } from '../audit/audit-storage.js';
import type { ProgrammesStorage } from '../programmes/programmes-storage.js';
import { canSeeRequest } from '../requests/requests-manager.js';
import type { RequestRow, RequestsStorage } from '../requests/requests-storage.js';
import { isUuid } from '../shared/validation.js';
import type { RequestFeed } from './request-feed.js';

/** A missed wake (LISTEN lost, a writer that does not notify) is made up for by a re-read this often. */
const SAFETY_REREAD_MS = 15_000;

export interface LiveUpdatesDeps {
  requests: Pick<RequestsStorage, 'findByIds' | 'findTransitions'>;
  audits: Pick<AuditStorage, 'find'>;
  programmes: Pick<ProgrammesStorage, 'findAuditors'>;
  feed: RequestFeed;
}

export interface RequestUpdate {
  certificationRequestUpdated: RequestRow;
  /** The audit as read with the request: the message shows this one, not a later one. */
  audit: AuditRow | null;
}

/**
 * What makes two reads of a request differ for a subscriber: its status and last change, and its audit's
 * status, progress, checks done (each completed check counts) and report. Rewrites that change none of these
 * (the same progress reported again) send nothing.
 */
function fingerprint(request: RequestRow, audit: AuditRow | undefined): string {
  return JSON.stringify([
    request.status,
    request.updatedAt.getTime(),
    audit?.status ?? null,
    audit?.progress ?? null,
    audit?.checks.map((check) => [check.key, check.passed, check.detail]) ?? null,
    audit?.reportCid ?? null,
  ]);
}

export function createLiveUpdates(deps: LiveUpdatesDeps) {
  const { requests, audits, programmes, feed } = deps;

  async function read(id: string) {
    const [request] = await requests.findByIds([id]);
    if (!request) return undefined;
    return { request, audit: await audits.find(id) };
  }

  /** The same rule as Query.certificationRequest: unknown ids and requests not the caller's to see are refused. */
  async function authorize(principal: Principal, id: string): Promise<void> {
    const current = isUuid(id) ? await read(id) : undefined;
    if (!current) throw codedError(ErrorCode.NOT_FOUND, `No certification request with id "${id}"`);
    const auditors = await programmes.findAuditors([current.request.programmeId]);
    const auditorIds = auditors.map((row) => row.auditorId);
    if (!canSeeRequest(principal, current.request, auditorIds)) {
      throw codedError(ErrorCode.FORBIDDEN, 'Not yours to see');
    }
  }

  /**
   * The request now, then again each time it changed. The wake listener is registered before the first
   * read, so no change between subscribing and the first message is lost; every wake re-reads the request
   * and its audit and emits only when the fingerprint moved (wakes coalesce: one read per burst).
   * `return()` ends it at once, even while waiting.
   */
  function subscribe(id: string): AsyncIterableIterator<RequestUpdate> {
    const queue: RequestUpdate[] = [];
    let waiting: ((result: IteratorResult<RequestUpdate>) => void) | undefined;
    let failed: ((error: unknown) => void) | undefined;
    let failure: unknown;
    let closed = false;
    let dirty = true;
    let pumping = false;
    let last: string | undefined;
    /** The last trail entry the subscriber has seen the request in (undefined before the first message). */
    let lastSeq: number | undefined;

    const deliver = () => {
      if (!waiting) return;
      if (failure !== undefined) {
        const reject = failed!;
        waiting = failed = undefined;
        reject(failure);
        return;
      }
      const next = queue.shift();
      if (next) {
        const resolve = waiting;
        waiting = failed = undefined;
        resolve({ value: next, done: false });
      }
    };

    const pump = async () => {
      if (pumping || closed) return;
      pumping = true;
      try {
        while (dirty && !closed) {
          dirty = false;
          const current = await read(id);
          if (!current || closed) break;
          const print = fingerprint(current.request, current.audit);
          if (print === last) continue;
          const { request } = current;
          // Transitions that happened between two reads (wakes coalesce) are each sent, in order, as the
          // request in that status; the trail entry of the current status is the current row itself.
          const trail = (await requests.findTransitions([id])).filter(
            (entry) => entry.at.getTime() <= request.statusChangedAt.getTime(),
          );
          if (closed) break;
          if (lastSeq !== undefined) {
            const missed = trail.filter((entry) => entry.seq > lastSeq!).slice(0, -1);
            for (const entry of missed) {
              queue.push({
                certificationRequestUpdated: {
                  ...request,
                  status: entry.toStatus,
                  statusChangedAt: entry.at,
                  updatedAt: entry.at,
                },
                audit: current.audit ?? null,
              });
            }
          }
          lastSeq = trail.at(-1)?.seq ?? lastSeq;
          last = print;
          queue.push({ certificationRequestUpdated: request, audit: current.audit ?? null });
          deliver();
        }
      } catch (error) {
        failure = error;
        deliver();
      } finally {
        pumping = false;
      }
      if (dirty && !closed) void pump();
    };

    const wake = () => {
      dirty = true;
      void pump();
    };
    const unsubscribe = feed.onWake(id, wake);
    const timer = setInterval(wake, SAFETY_REREAD_MS);
    timer.unref();
    void pump();

    const finish = (): Promise<IteratorResult<RequestUpdate>> => {
      closed = true;
      unsubscribe();
      clearInterval(timer);
      queue.length = 0;
      if (waiting) {
        const resolve = waiting;
        waiting = failed = undefined;
        resolve({ value: undefined, done: true });
      }
      return Promise.resolve({ value: undefined, done: true });
    };

    return {
      next() {
        if (closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiting = resolve;
          failed = reject;
          deliver();
        });
      },
      return: finish,
      throw(error: unknown) {
        void finish();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return { authorize, subscribe };
}

export type LiveUpdates = ReturnType<typeof createLiveUpdates>;
