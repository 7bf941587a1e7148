import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { PDFDocument } from 'pdf-lib';
import {
  createContentStore,
  createLogger,
  DomainError,
  rawLeafCid,
  type ContentStore,
  type Principal,
} from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import { UPLOADS_PREFIX } from './evidence-manager.js';
import { evidenceUploadRoute } from './upload-route.js';

// Evidence upload on a real database and a real embedded content store (temporary DATA_DIR), through the
// HTTP route the gateway passes /uploads/ to.
let database: TestDatabase<typeof schema>;
let contents: ContentStore;
let dataDir: string;
let modules: ReturnType<typeof createCertificationModules>;
let programme: ProgrammeRow;
let server: Server;
let origin: string;

const principal = (userId: string, roles: string[] = []): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const admin = principal(randomUUID(), ['ADMIN']);
const auditor = principal(randomUUID(), ['AUDITOR']);
const PUBLIC_URL = 'http://gateway.test';

async function pdf(pages = 1): Promise<Buffer> {
  const document = await PDFDocument.create();
  // Unique bytes per call: the content store keeps whatever earlier tests stored.
  document.setTitle(randomUUID());
  for (let index = 0; index < pages; index++) document.addPage([200, 200]);
  return Buffer.from(await document.save({ useObjectStreams: false }));
}

/** The upload URL's path on the test server (the URL itself names the gateway). */
const onServer = (url: string) => `${origin}${new URL(url).pathname}`;

async function put(url: string, body: Buffer, contentType = 'application/pdf') {
  const response = await fetch(onServer(url), {
    method: 'PUT',
    body,
    headers: { 'content-type': contentType },
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** A PUT without Content-Length (chunked): the route must stop at the limit while streaming. */
async function putChunked(url: string, chunks: Buffer[], contentType = 'application/pdf') {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = httpRequest(
      onServer(url),
      { method: 'PUT', headers: { 'content-type': contentType } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

async function expectRefused(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
}

const draftOf = async (requester = principal(randomUUID())) => ({
  requester,
  request: await modules.requests.createRequest(requester, programme.id),
});

const ticket = (requester: Principal, requestId: string, overrides: Record<string, unknown> = {}) =>
  modules.evidence.createUpload(requester, {
    requestId,
    evidenceKey: 'portfolio',
    fileName: 'portfolio.pdf',
    mediaType: 'application/pdf',
    size: 0,
    ...overrides,
  });

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-evidence-'));
  contents = await createContentStore({ DATA_DIR: dataDir });
  const logger = createLogger('test', { level: 'silent' });
  modules = createCertificationModules(database.db, logger, undefined, { contents, publicUrl: PUBLIC_URL });
  const auditorId = (auditor as { userId: string }).userId;
  await createKnownUsersStorage(database.db).remember(database.db, auditorId, 'auditor');
  const created = await modules.programmes.createProgramme(admin, {
    slug: 'evidence-test',
    name: 'Evidence test',
    description: 'Uploads',
    validityDays: 30,
    auditorIds: [auditorId],
    requiredEvidence: [
      {
        key: 'portfolio',
        label: 'Portfolio',
        mediaTypes: ['application/pdf'],
        maxBytes: 8192,
        mandatory: true,
      },
      { key: 'notes', label: 'Notes', mediaTypes: ['text/markdown'], maxBytes: 100, mandatory: false },
    ],
  });
  programme = await modules.programmes.publishProgramme(admin, created.id);
  const route = evidenceUploadRoute(modules.evidence, logger);
  server = createServer((req, res) => {
    if (!(req.url ?? '').startsWith(UPLOADS_PREFIX)) return void res.writeHead(404).end();
    route(req, res, { requestId: randomUUID() } as never).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await contents?.close();
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('createEvidenceUpload', () => {
  it('gives the requester a 10-minute URL on the gateway, storing only the hash of its token', async () => {
    const { requester, request } = await draftOf();
    const before = Date.now();
    const upload = await ticket(requester, request.id, { size: 1000 });
    expect(upload.url).toMatch(/^http:\/\/gateway\.test\/uploads\/[A-Za-z0-9_-]{43}$/);
    expect(upload.maxBytes).toBe(8192);
    expect(upload.expiresAt.getTime() - before).toBeGreaterThanOrEqual(10 * 60_000 - 1000);
    expect(upload.expiresAt.getTime() - before).toBeLessThanOrEqual(10 * 60_000 + 1000);
    const token = upload.url.split('/').at(-1)!;
    const rows = await database.db
      .select()
      .from(schema.evidenceUploads)
      .where(eq(schema.evidenceUploads.requestId, request.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.tokenHash).not.toContain(token);
    expect(rows[0]!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('infers the evidence type when evidenceKey is omitted and the document can only be one', async () => {
    const { requester, request } = await draftOf();
    const upload = await ticket(requester, request.id, { size: 10, evidenceKey: undefined });
    const token = upload.url.split('/').at(-1)!;
    const [row] = await database.db
      .select()
      .from(schema.evidenceUploads)
      .where(eq(schema.evidenceUploads.requestId, request.id));
    expect(row!.tokenHash).not.toContain(token);
    expect(row!.evidenceKey).toBe('portfolio');
  });

  it('refuses others, other states, unknown keys, wrong types and sizes over the limit', async () => {
    const { requester, request } = await draftOf();
    await expectRefused(ticket(principal(randomUUID()), request.id, { size: 10 }), 'NOT_FOUND');
    await expectRefused(ticket(admin, request.id, { size: 10 }), 'FORBIDDEN');
    await expectRefused(ticket(requester, randomUUID(), { size: 10 }), 'NOT_FOUND');
    await expectRefused(ticket(requester, request.id, { size: 10, evidenceKey: 'selfie' }), 'BAD_USER_INPUT');
    await expectRefused(
      ticket(requester, request.id, { size: 10, mediaType: 'image/png' }),
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await expectRefused(ticket(requester, request.id, { size: 8193 }), 'CONTENT_TOO_LARGE');
    await expectRefused(ticket(requester, request.id, { size: 0 }), 'BAD_USER_INPUT');
    await expectRefused(
      ticket(requester, request.id, { size: 10, fileName: '../etc/passwd' }),
      'BAD_USER_INPUT',
    );
    // Parameters are fine: the type's essence is what the programme lists.
    await ticket(requester, request.id, { size: 10, mediaType: 'Application/PDF; version=1.7' });
    await modules.requests.cancel(requester, request.id, 'changed my mind');
    await expectRefused(ticket(requester, request.id, { size: 10 }), 'INVALID_STATE');
  });
});

describe('PUT /uploads/<token>', () => {
  it('stores the bytes in the content store and records CID, SHA-256, size and type on the request', async () => {
    const { requester, request } = await draftOf();
    const bytes = await pdf();
    const upload = await ticket(requester, request.id, { size: bytes.length });
    const answer = await put(upload.url, bytes);
    expect(answer.status).toBe(200);
    const cid = (await rawLeafCid(bytes)).toString();
    const sha256 = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
    expect(answer.body).toEqual({
      ok: true,
      evidence: {
        key: 'portfolio',
        fileName: 'portfolio.pdf',
        cid,
        sha256,
        size: bytes.length,
        mediaType: 'application/pdf',
        uploadedAt: expect.any(String),
        url: `${PUBLIC_URL}/ipfs/${cid}`,
      },
    });
    expect(await contents.stat(cid)).toEqual({ size: bytes.length, mediaType: 'application/pdf' });
    const [row] = await modules.storage.evidence.findByRequests([request.id]);
    expect(row).toMatchObject({
      evidenceKey: 'portfolio',
      cid,
      sha256,
      size: bytes.length,
      uploadedBy: requester.kind === 'user' ? requester.userId : '',
    });

    // Single use: the same URL again is gone.
    const again = await put(upload.url, bytes);
    expect(again).toMatchObject({ status: 410, body: { ok: false, error: { code: 'UPLOAD_URL_GONE' } } });
  });

  it('replaces the document of the same key, keeping one per key', async () => {
    const { requester, request } = await draftOf();
    const first = await pdf(1);
    const second = await pdf(2);
    await put((await ticket(requester, request.id, { size: first.length })).url, first);
    const replaced = await put(
      (await ticket(requester, request.id, { size: second.length, fileName: 'v2.pdf' })).url,
      second,
    );
    expect(replaced.status).toBe(200);
    const rows = await modules.storage.evidence.findByRequests([request.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ fileName: 'v2.pdf', cid: (await rawLeafCid(second)).toString() });
  });

  it('refuses a wrong Content-Type (415, URL still usable) and bytes that are not a PDF (415, URL spent)', async () => {
    const { requester, request } = await draftOf();
    const bytes = await pdf();
    const upload = await ticket(requester, request.id, { size: bytes.length });
    const wrongHeader = await put(upload.url, bytes, 'text/plain');
    expect(wrongHeader).toMatchObject({
      status: 415,
      body: { ok: false, error: { code: 'UNSUPPORTED_MEDIA_TYPE' } },
    });
    expect(await modules.storage.evidence.findByRequests([request.id])).toHaveLength(0);

    const fake = Buffer.alloc(bytes.length, 'A');
    const sniffed = await put(upload.url, fake);
    expect(sniffed).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    expect(sniffed.body.error.message).toContain('does not look like application/pdf');
    expect(await contents.has((await rawLeafCid(fake)).toString())).toBe(false);
    expect((await put(upload.url, bytes)).status).toBe(410);
    expect(await modules.storage.evidence.findByRequests([request.id])).toHaveLength(0);
  });

  it('refuses more bytes than declared: 413 from Content-Length, and while streaming without one', async () => {
    const { requester, request } = await draftOf();
    const bytes = await pdf();
    const declared = await ticket(requester, request.id, { size: bytes.length - 10 });
    const byHeader = await put(declared.url, bytes);
    expect(byHeader).toMatchObject({
      status: 413,
      body: { ok: false, error: { code: 'CONTENT_TOO_LARGE' } },
    });

    const streamed = await putChunked(declared.url, [bytes.subarray(0, 100), bytes.subarray(100)]);
    expect(streamed).toMatchObject({ status: 413, body: { error: { code: 'CONTENT_TOO_LARGE' } } });
    expect(await contents.has((await rawLeafCid(bytes)).toString())).toBe(false);

    const short = await ticket(requester, request.id, { size: bytes.length + 10 });
    const fewer = await putChunked(short.url, [bytes]);
    expect(fewer).toMatchObject({ status: 400, body: { error: { code: 'SIZE_MISMATCH' } } });
    expect(await modules.storage.evidence.findByRequests([request.id])).toHaveLength(0);
  });

  it('answers 401 for a malformed token, 404 for an unknown one and 410 once expired; PUT only', async () => {
    const { requester, request } = await draftOf();
    const bytes = await pdf();
    expect((await put(`${PUBLIC_URL}/uploads/nope`, bytes)).status).toBe(401);
    const unknown = await put(`${PUBLIC_URL}/uploads/${'a'.repeat(43)}`, bytes);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });

    const upload = await ticket(requester, request.id, { size: bytes.length });
    await database.db
      .update(schema.evidenceUploads)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.evidenceUploads.requestId, request.id));
    const expired = await put(upload.url, bytes);
    expect(expired).toMatchObject({ status: 410, body: { error: { code: 'UPLOAD_URL_GONE' } } });

    const get = await fetch(onServer(upload.url));
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('PUT');
  });
});

describe('submission', () => {
  it('needs every mandatory evidence type; once submitted, outstanding URLs are refused (403)', async () => {
    const { requester, request } = await draftOf();
    await expectRefused(modules.requests.submit(requester, request.id), 'EVIDENCE_MISSING');
    expect((await modules.storage.requests.findByIds([request.id]))[0]!.status).toBe('DRAFT');

    const bytes = await pdf();
    await put((await ticket(requester, request.id, { size: bytes.length })).url, bytes);
    const late = await ticket(requester, request.id, { size: bytes.length });
    const submitted = await modules.requests.submit(requester, request.id);
    expect(submitted.status).toBe('SUBMITTED');

    const refused = await put(late.url, bytes);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'REQUEST_NOT_DRAFT' } } });
  });
});
