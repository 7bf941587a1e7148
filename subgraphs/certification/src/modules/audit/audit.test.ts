import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { PDFDocument } from 'pdf-lib';
import {
  createContentStore,
  createLogger,
  createMemoryEventTransport,
  createMemoryJobQueue,
  startOutboxRelay,
  type ContentStore,
  type EventTransport,
  type JobQueue,
  type Principal,
} from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import {
  AUDIT_JOB,
  auditJobId,
  EnrollmentCompleted,
  startAuditJobs,
  type AuditJobs,
} from './audit-consumer.js';
import { systemActor } from '../requests/requests-manager.js';
import { AUDIT_ACTOR } from './audit-manager.js';
import { AuditRetryRequested } from './audit-storage.js';

// The automated audit on a real database and a real embedded content store (temporary DATA_DIR): the
// manager run directly, and once end to end through the outbox relay, the Submitted consumer and the job queue.
let database: TestDatabase<typeof schema>;
let contents: ContentStore;
let dataDir: string;
let modules: ReturnType<typeof createCertificationModules>;
let withPrerequisite: ProgrammeRow;
let plain: ProgrammeRow;
const courseId = randomUUID();

const principal = (userId: string, roles: string[] = []): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const userIdOf = (user: Principal) => (user as { userId: string }).userId;
const admin = principal(randomUUID(), ['ADMIN']);
const auditor = principal(randomUUID(), ['AUDITOR']);

async function pdf(): Promise<Buffer> {
  const document = await PDFDocument.create();
  document.setTitle(randomUUID());
  document.addPage([200, 200]);
  return Buffer.from(await document.save({ useObjectStreams: false }));
}

/** Uploads `bytes` as the request's portfolio the way the route does (manager, same checks). */
async function attach(requester: Principal, requestId: string, bytes: Buffer) {
  const upload = await modules.evidence.createUpload(requester, {
    requestId,
    evidenceKey: 'portfolio',
    fileName: 'portfolio.pdf',
    mediaType: 'application/pdf',
    size: bytes.length,
  });
  return modules.evidence.receiveUpload(upload.url.split('/').at(-1)!, {
    contentType: 'application/pdf',
    contentLength: bytes.length,
    body: [bytes] as unknown as AsyncIterable<Uint8Array>,
  });
}

/** A requester's request with a portfolio attached, submitted. */
async function submitted(programme: ProgrammeRow, bytes?: Buffer) {
  const requester = principal(randomUUID());
  const request = await modules.requests.createRequest(requester, programme.id);
  const evidence = await attach(requester, request.id, bytes ?? (await pdf()));
  await modules.requests.submit(requester, request.id);
  return { requester, id: request.id, evidence };
}

async function statusOf(id: string) {
  return (await modules.storage.requests.findByIds([id]))[0]!.status;
}

async function reportOf(cid: string): Promise<any> {
  const stream = await contents.get(cid);
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream!) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** The file under DATA_DIR/ipfs/blocks holding these bytes (a one-block file is its own block). */
function blockFileOf(bytes: Buffer): string {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const full = path.join(dir, entry);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
  const file = walk(path.join(dataDir, 'ipfs', 'blocks')).find((candidate) =>
    readFileSync(candidate).equals(bytes),
  );
  if (!file) throw new Error('block not found');
  return file;
}

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-audit-'));
  contents = await createContentStore({ DATA_DIR: dataDir });
  modules = createCertificationModules(database.db, createLogger('test', { level: 'silent' }), undefined, {
    contents,
    publicUrl: 'http://gateway.test',
  });
  await createKnownUsersStorage(database.db).remember(database.db, userIdOf(auditor), 'auditor');
  const create = async (slug: string, extra: Record<string, unknown>) => {
    const row = await modules.programmes.createProgramme(admin, {
      slug,
      name: slug,
      description: 'Audit test',
      validityDays: 30,
      auditorIds: [userIdOf(auditor)],
      requiredEvidence: [
        { key: 'portfolio', label: 'Portfolio', mediaTypes: ['application/pdf'], maxBytes: 65_536 },
      ],
      auditChecklist: [
        { key: 'evidence_intact', label: 'The portfolio is intact', mandatory: true },
        { key: 'originality', label: 'The work is original', mandatory: true },
      ],
      ...extra,
    });
    return modules.programmes.publishProgramme(admin, row.id);
  };
  plain = await create('audit-plain', {});
  withPrerequisite = await create('audit-prerequisite', { prerequisiteCourseIds: [courseId] });
});

afterAll(async () => {
  await contents?.close();
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the automated audit', () => {
  it('passes a complete request: AUDITING then AWAITING_REVIEW, with a report on IPFS; the auditor then approves', async () => {
    const { id, evidence } = await submitted(plain);
    const outcome = await modules.audits.run(id);
    expect(outcome).toMatchObject({ outcome: 'PASSED', status: 'AWAITING_REVIEW' });
    const trail = await modules.storage.requests.findTransitions([id]);
    expect(trail.map((row) => [row.toStatus, row.actorKind, row.actorName])).toEqual([
      ['DRAFT', 'REQUESTER', null],
      ['SUBMITTED', 'REQUESTER', null],
      ['AUDITING', 'SYSTEM', AUDIT_ACTOR],
      ['AWAITING_REVIEW', 'SYSTEM', AUDIT_ACTOR],
    ]);

    const audit = (await modules.storage.audits.findByRequests([id]))[0]!;
    expect(audit).toMatchObject({ status: 'PASSED', progress: 100, attempts: 1 });
    const reportCid = (outcome as { reportCid: string }).reportCid;
    expect(audit.reportCid).toBe(reportCid);
    expect(trail.at(-1)!.evidence).toEqual({
      reportCid,
      reportUrl: `http://gateway.test/ipfs/${reportCid}`,
      failed: [],
    });
    expect(await contents.stat(reportCid)).toMatchObject({ mediaType: 'application/json' });
    const report = await reportOf(reportCid);
    expect(report).toMatchObject({
      requestId: id,
      programme: { slug: 'audit-plain' },
      passed: true,
      documents: [{ key: 'portfolio', cid: evidence.cid, sha256: evidence.sha256, size: evidence.size }],
    });
    const byKey = Object.fromEntries(report.checks.map((check: any) => [check.key, check]));
    expect(Object.keys(byKey)).toEqual([
      'evidence_present',
      'evidence_intact',
      'media_types_valid',
      'pdf_parses',
      'prerequisites_complete',
      'originality',
    ]);
    // The programme's checklist names the built-in check; its own items are left to the auditor.
    expect(byKey.evidence_intact).toMatchObject({
      label: 'The portfolio is intact',
      mandatory: true,
      passed: true,
    });
    expect(byKey.pdf_parses).toMatchObject({ passed: true, detail: 'portfolio: 1 page(s)' });
    expect(byKey.originality).toMatchObject({ mandatory: true, passed: null });
    expect(audit.checks).toEqual(report.checks);

    const approved = await modules.requests.review(auditor, id, 'APPROVE', 'Looks good');
    expect(approved.status).toBe('APPROVED');
  });

  it('is idempotent: a second run, or two at once, change nothing more', async () => {
    const first = await submitted(plain);
    const once = await modules.audits.run(first.id);
    const trail = await modules.storage.requests.findTransitions([first.id]);
    const again = await modules.audits.run(first.id);
    expect(again).toMatchObject({ outcome: 'SKIPPED', status: 'AWAITING_REVIEW' });
    expect(await modules.storage.requests.findTransitions([first.id])).toEqual(trail);
    expect((await modules.storage.audits.findByRequests([first.id]))[0]).toMatchObject({
      reportCid: (once as { reportCid: string }).reportCid,
      attempts: 1,
    });

    const second = await submitted(plain);
    const results = await Promise.all([modules.audits.run(second.id), modules.audits.run(second.id)]);
    expect(results.filter((result) => result.outcome === 'PASSED').length).toBeGreaterThanOrEqual(1);
    const moves = (await modules.storage.requests.findTransitions([second.id])).map((row) => row.toStatus);
    expect(moves).toEqual(['DRAFT', 'SUBMITTED', 'AUDITING', 'AWAITING_REVIEW']);
  });

  it('catches a document whose recorded SHA-256 no longer matches: AUTO_REJECTED with the reason', async () => {
    const { id } = await submitted(plain);
    await database.db
      .update(schema.requestEvidence)
      .set({ sha256: '0'.repeat(64) })
      .where(
        and(eq(schema.requestEvidence.requestId, id), eq(schema.requestEvidence.evidenceKey, 'portfolio')),
      );
    const outcome = await modules.audits.run(id);
    expect(outcome).toMatchObject({ outcome: 'FAILED', status: 'AUTO_REJECTED' });
    const last = (await modules.storage.requests.findTransitions([id])).at(-1)!;
    expect(last).toMatchObject({ toStatus: 'AUTO_REJECTED', actorKind: 'SYSTEM' });
    expect(last.reason).toContain('The portfolio is intact');
    expect(last.reason).toContain(`${'0'.repeat(64)} was recorded`);
    expect(last.evidence).toMatchObject({ failed: ['evidence_intact'] });
    const audit = (await modules.storage.audits.findByRequests([id]))[0]!;
    expect(audit.status).toBe('FAILED');
    expect(audit.checks.find((check) => check.key === 'evidence_intact')).toMatchObject({ passed: false });
  });

  it('catches bytes tampered with in the store after upload (the block file overwritten)', async () => {
    const bytes = await pdf();
    const { id } = await submitted(plain, bytes);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 20] = tampered[tampered.length - 20]! ^ 0xff;
    writeFileSync(blockFileOf(bytes), tampered);
    const outcome = await modules.audits.run(id);
    expect(outcome).toMatchObject({ outcome: 'FAILED', status: 'AUTO_REJECTED' });
    const report = await reportOf((outcome as { reportCid: string }).reportCid);
    const intact = report.checks.find((check: any) => check.key === 'evidence_intact');
    expect(intact.passed).toBe(false);
    expect(intact.detail).toMatch(/portfolio: could not be read back: .*corrupt/);
  });

  it('rejects a PDF that does not parse, and a requester who has not completed the prerequisite', async () => {
    const broken = Buffer.from('%PDF-1.7\n% nothing of a document here\n%%EOF\n');
    const first = await submitted(plain, broken);
    const outcome = await modules.audits.run(first.id);
    expect(outcome).toMatchObject({ outcome: 'FAILED', status: 'AUTO_REJECTED' });
    const audit = (await modules.storage.audits.findByRequests([first.id]))[0]!;
    expect(audit.checks.filter((check) => check.passed === false).map((check) => check.key)).toEqual([
      'pdf_parses',
    ]);

    const second = await submitted(withPrerequisite);
    expect(await modules.audits.run(second.id)).toMatchObject({ outcome: 'FAILED', status: 'AUTO_REJECTED' });
    const failed = (await modules.storage.audits.findByRequests([second.id]))[0]!.checks.filter(
      (check) => check.passed === false,
    );
    expect(failed).toEqual([expect.objectContaining({ key: 'prerequisites_complete' })]);
    expect(failed[0]!.detail).toContain(courseId);
  });
});

/** The request whose audit gave up and was retried in 'the automated audit'; the job suite runs the retry. */
let retried: { id: string; retryId: string } | undefined;

describe('an audit that gave up', () => {
  it('is retried by an assigned auditor or an administrator only, once, and runs again', async () => {
    const { id, requester } = await submitted(plain);
    await modules.requests.transition(id, 'AUDITING', { actor: systemActor(AUDIT_ACTOR) });
    await modules.storage.audits.ensureQueued(database.db, id);
    // What the worker does after the job's last attempt failed (e.g. the content store was unreachable).
    await modules.audits.giveUp(id, new Error('content store unreachable'));
    expect((await modules.storage.audits.find(id))?.status).toBe('ERROR');

    await expect(modules.audits.retry(requester, id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const stranger = principal(randomUUID(), ['AUDITOR']);
    await expect(modules.audits.retry(stranger, id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(modules.audits.retry(auditor, 'not-an-id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await modules.storage.audits.find(id))?.status).toBe('ERROR');

    const request = await modules.audits.retry(auditor, id);
    expect(request.status).toBe('AUDITING');
    expect(await modules.storage.audits.find(id)).toMatchObject({ status: 'QUEUED', error: null });
    const announced = (await database.db.select().from(schema.outbox)).filter(
      (event) =>
        event.type === AuditRetryRequested && (event.payload as { requestId: string }).requestId === id,
    );
    expect(announced).toHaveLength(1);
    // Nothing to retry any more: refused, nothing announced twice.
    await expect(modules.audits.retry(admin, id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    retried = { id, retryId: (announced[0]!.payload as { retryId: string }).retryId };
  });

  it('cannot be retried while it has not given up', async () => {
    const { id } = await submitted(plain);
    await expect(modules.audits.retry(admin, id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('the audit job, started by CertificationRequestSubmitted', () => {
  let transport: EventTransport;
  let queue: JobQueue;
  let jobs: AuditJobs;
  let relay: ReturnType<typeof startOutboxRelay>;

  beforeAll(async () => {
    transport = createMemoryEventTransport();
    queue = createMemoryJobQueue();
    const logger = createLogger('test', { level: 'silent' });
    relay = startOutboxRelay({
      db: database.db,
      tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
      transport,
      logger,
      pollMs: 20,
    });
    jobs = await startAuditJobs({
      db: database.db,
      transport,
      env: { REDIS_PREFIX: 'test' },
      queue,
      audits: modules.storage.audits,
      manager: modules.audits,
      logger,
    });
  });

  afterAll(async () => {
    await jobs?.close();
    await relay?.close();
    await queue?.close();
    await transport?.close();
  });

  async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('audits a submitted request once, learning the prerequisite from learning.EnrollmentCompleted', async () => {
    const requester = principal(randomUUID());
    await transport.publish({
      id: randomUUID(),
      type: EnrollmentCompleted,
      occurredAt: new Date().toISOString(),
      payload: {
        enrollmentId: randomUUID(),
        userId: userIdOf(requester),
        courseId,
        completedAt: new Date().toISOString(),
      },
    });
    await until(async () =>
      (await modules.storage.audits.findCompletions(userIdOf(requester), [courseId])).size > 0
        ? true
        : undefined,
    );
    const request = await modules.requests.createRequest(requester, withPrerequisite.id);
    await attach(requester, request.id, await pdf());
    await modules.requests.submit(requester, request.id);

    const status = await until(async () => {
      const current = await statusOf(request.id);
      return current === 'AWAITING_REVIEW' || current === 'AUTO_REJECTED' ? current : undefined;
    });
    expect(status).toBe('AWAITING_REVIEW');
    const job = await queue.getJob(auditJobId(request.id));
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 1, result: { outcome: 'PASSED' } });

    // Enqueued again (a redelivered event, a restart sweep): the same job, nothing runs twice.
    const again = await queue.enqueue(
      AUDIT_JOB,
      { requestId: request.id },
      { jobId: auditJobId(request.id) },
    );
    expect(again.state).toBe('completed');
    const moves = (await modules.storage.requests.findTransitions([request.id])).map((row) => row.toStatus);
    expect(moves).toEqual(['DRAFT', 'SUBMITTED', 'AUDITING', 'AWAITING_REVIEW']);
    const audit = (await modules.storage.audits.findByRequests([request.id]))[0]!;
    expect(audit.checks.find((check) => check.key === 'prerequisites_complete')).toMatchObject({
      passed: true,
    });
    expect(await reportOf(audit.reportCid!)).toMatchObject({ requestId: request.id, passed: true });
  });

  it('runs a retried audit as a new job (the failed one keeps its id) and moves the request on', async () => {
    if (!retried) throw new Error('the retry suite did not run');
    const { id, retryId } = retried;
    const status = await until(async () => {
      const current = await statusOf(id);
      return current === 'AWAITING_REVIEW' ? current : undefined;
    });
    expect(status).toBe('AWAITING_REVIEW');
    const job = await until(async () => {
      const found = await queue.getJob(`${auditJobId(id)}-retry-${retryId}`);
      return found?.state === 'completed' ? found : undefined;
    });
    expect(job.state).toBe('completed');
    expect((await modules.storage.audits.find(id))?.status).toBe('PASSED');
  });
});
