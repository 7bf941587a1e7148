import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  devKeys,
  minimalPdf,
  signIn,
  startPublicTestStack,
  type SignedIn,
  type TestStack,
  until,
} from '../kit/index.js';

// Evidence upload and the automated audit through the gateway only: ada uploads the seeded Foundations
// programme's portfolio to the upload URL createEvidenceUpload gives her, submits, the audit job moves the
// request to AWAITING_REVIEW with a report on IPFS, alan (the assigned auditor) approves. grace's document, altered
// in the store after upload, is caught by the audit (AUTO_REJECTED).
let stack: TestStack;
let ada: SignedIn;
let alan: SignedIn;
let grace: SignedIn;

beforeAll(async () => {
  stack = await startPublicTestStack();
  [ada, alan, grace] = await Promise.all([
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.grace),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

const UPLOAD = `mutation ($requestId: ID!, $size: Int!, $mediaType: String! = "application/pdf") {
  createEvidenceUpload(requestId: $requestId, evidenceKey: "portfolio", fileName: "portfolio.pdf", mediaType: $mediaType, size: $size) {
    ok error { code message field } upload { url expiresAt maxBytes }
  }
}`;

const REQUEST = `query ($id: ID!) {
  certificationRequest(id: $id) {
    id status
    evidence { key fileName cid sha256 size mediaType url }
    audit { status progress passed checks { key mandatory passed detail } reportCid reportUrl }
    auditReport { passed checks { name passed detail } reportCid }
    auditTrail { from to actor { kind name } evidence }
  }
}`;

async function put(url: string, body: Buffer, contentType = 'application/pdf') {
  const response = await fetch(url, { method: 'PUT', body, headers: { 'content-type': contentType } });
  return { status: response.status, body: (await response.json()) as any };
}

describe('evidence upload and automated audit, through the gateway', () => {
  const portfolio = minimalPdf('Ada Lovelace portfolio');
  let requestId: string;

  it('lets ada attach her portfolio through a single-use upload URL, and not submit without it', async () => {
    const programme = await stack.graphql(
      '{ programme(slug: "foundations") { id requiredEvidence { key maxBytes } } }',
    );
    const created = await stack.graphql(
      'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code } request { id } } }',
      { id: programme.body.data!.programme.id },
      ada.headers,
    );
    expect(created.body.data!.createCertificationRequest.ok).toBe(true);
    requestId = created.body.data!.createCertificationRequest.request.id;

    const early = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
      { id: requestId },
      ada.headers,
    );
    expect(early.body.data!.submitCertificationRequest).toMatchObject({
      ok: false,
      error: { code: 'EVIDENCE_MISSING', message: expect.stringContaining('portfolio') },
    });

    const tooBig = await stack.graphql(UPLOAD, { requestId, size: 10 * 1024 * 1024 + 1 }, ada.headers);
    expect(tooBig.body.data!.createEvidenceUpload).toMatchObject({
      ok: false,
      error: { code: 'CONTENT_TOO_LARGE' },
    });
    const byAlan = await stack.graphql(UPLOAD, { requestId, size: portfolio.length }, alan.headers);
    expect(byAlan.body.data!.createEvidenceUpload.error.code).toBe('NOT_FOUND');

    const ticket = await stack.graphql(UPLOAD, { requestId, size: portfolio.length }, ada.headers);
    expect(ticket.body.errors).toBeUndefined();
    const { url, maxBytes } = ticket.body.data!.createEvidenceUpload.upload;
    expect(url.startsWith(`${stack.url}/uploads/`)).toBe(true);
    expect(maxBytes).toBe(10 * 1024 * 1024);

    // Through the gateway's pass-through: the wrong type is refused without spending the URL.
    expect((await put(url, portfolio, 'text/plain')).status).toBe(415);
    const uploaded = await put(url, portfolio);
    expect(uploaded.status).toBe(200);
    expect(uploaded.body).toMatchObject({ ok: true, evidence: { key: 'portfolio', size: portfolio.length } });
    expect(await put(url, portfolio)).toMatchObject({
      status: 410,
      body: { error: { code: 'UPLOAD_URL_GONE' } },
    });

    const seen = await stack.graphql(REQUEST, { id: requestId }, ada.headers);
    const [evidence] = seen.body.data!.certificationRequest.evidence;
    expect(evidence).toMatchObject({
      key: 'portfolio',
      fileName: 'portfolio.pdf',
      size: portfolio.length,
      mediaType: 'application/pdf',
      url: `${stack.url}/ipfs/${evidence.cid}`,
    });
    const download = await fetch(evidence.url);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await download.arrayBuffer()).equals(portfolio)).toBe(true);
  });

  it('refuses an upload over its declared size at the gateway URL (413)', async () => {
    const ticket = await stack.graphql(UPLOAD, { requestId, size: 100 }, ada.headers);
    const refused = await put(ticket.body.data!.createEvidenceUpload.upload.url, portfolio);
    expect(refused).toMatchObject({ status: 413, body: { ok: false, error: { code: 'CONTENT_TOO_LARGE' } } });
  });

  it('audits the submitted request into AWAITING_REVIEW, alan approves, and the report is on /ipfs', async () => {
    const submitted = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } request { status } } }',
      { id: requestId },
      ada.headers,
    );
    expect(submitted.body.data!.submitCertificationRequest).toMatchObject({
      ok: true,
      request: { status: 'SUBMITTED' },
    });

    let request: any;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const polled = await stack.graphql(REQUEST, { id: requestId }, ada.headers);
      expect(polled.body.errors).toBeUndefined();
      request = polled.body.data!.certificationRequest;
      if (!['SUBMITTED', 'AUDITING'].includes(request.status)) break;
      if (Date.now() > deadline) throw new Error(`still ${request.status} after a minute`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(request.status).toBe('AWAITING_REVIEW');
    expect(request.audit).toMatchObject({ status: 'PASSED', progress: 100, passed: true });
    expect(request.audit.checks.map((check: any) => [check.key, check.passed])).toEqual([
      ['evidence_present', true],
      ['evidence_intact', true],
      ['media_types_valid', true],
      ['pdf_parses', true],
      ['prerequisites_complete', true],
    ]);
    expect(
      request.auditTrail.slice(2).map((entry: any) => [entry.to, entry.actor.kind, entry.actor.name]),
    ).toEqual([
      ['AUDITING', 'SYSTEM', 'automated-audit'],
      ['AWAITING_REVIEW', 'SYSTEM', 'automated-audit'],
    ]);
    expect(request.audit.reportUrl).toBe(`${stack.url}/ipfs/${request.audit.reportCid}`);
    // The public name for the same report.
    expect(request.auditReport).toEqual({
      passed: true,
      reportCid: request.audit.reportCid,
      checks: request.audit.checks.map((check: any) => ({
        name: check.key,
        passed: check.passed,
        detail: check.detail,
      })),
    });

    const queue = await stack.graphql(
      '{ reviewQueue(first: 50) { edges { node { id } } } }',
      undefined,
      alan.headers,
    );
    expect(queue.body.data!.reviewQueue.edges.map((edge: any) => edge.node.id)).toContain(requestId);
    const byAlan = await stack.graphql(REQUEST, { id: requestId }, alan.headers);
    expect(byAlan.body.data!.certificationRequest.audit.reportCid).toBe(request.audit.reportCid);

    const approved = await stack.graphql(
      'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Solid portfolio") { ok error { code message } request { status } } }',
      { id: requestId },
      alan.headers,
    );
    expect(approved.body.data!.reviewCertificationRequest.ok).toBe(true);
    // A free programme goes on to issuance at once (issuance's own tests cover what follows).
    expect(['APPROVED', 'ISSUING', 'ISSUED']).toContain(
      approved.body.data!.reviewCertificationRequest.request.status,
    );

    const report = await fetch(request.audit.reportUrl);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toBe('application/json');
    expect(await report.json()).toMatchObject({
      requestId,
      programme: { slug: 'foundations' },
      passed: true,
      documents: [{ key: 'portfolio', cid: request.evidence[0].cid, sha256: request.evidence[0].sha256 }],
    });
  });

  it('catches a document tampered with in the store after upload: AUTO_REJECTED, evidence_intact failed', async () => {
    const programme = await stack.graphql('{ programme(slug: "foundations") { id } }');
    const created = await stack.graphql(
      'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok request { id } } }',
      { id: programme.body.data!.programme.id },
      grace.headers,
    );
    const id = created.body.data!.createCertificationRequest.request.id as string;
    const document = minimalPdf('Grace Hopper portfolio');
    const ticket = await stack.graphql(UPLOAD, { requestId: id, size: document.length }, grace.headers);
    expect((await put(ticket.body.data!.createEvidenceUpload.upload.url, document)).status).toBe(200);

    // Someone with access to the disk (or a failing one) alters the stored bytes: the embedded store's block
    // file of this one-block document, under the stack's DATA_DIR.
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((entry) => {
        const full = path.join(dir, entry);
        return statSync(full).isDirectory() ? walk(full) : [full];
      });
    const block = walk(path.join(stack.env.DATA_DIR!, 'ipfs', 'blocks')).find((file) =>
      readFileSync(file).equals(document),
    );
    expect(block).toBeDefined();
    const tampered = Buffer.from(document);
    tampered[tampered.length - 30] = tampered[tampered.length - 30]! ^ 0xff;
    writeFileSync(block!, tampered);

    const submitted = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
      { id },
      grace.headers,
    );
    expect(submitted.body.data!.submitCertificationRequest.ok).toBe(true);
    const rejected = await until(async () => {
      const polled = await stack.graphql(REQUEST, { id }, grace.headers);
      const request = polled.body.data!.certificationRequest;
      return ['SUBMITTED', 'AUDITING'].includes(request.status) ? undefined : request;
    }, 'the audit verdict');
    expect(rejected.status).toBe('AUTO_REJECTED');
    const intact = rejected.audit.checks.find((check: any) => check.key === 'evidence_intact');
    expect(intact).toMatchObject({ mandatory: true, passed: false });
    expect(rejected.auditTrail.at(-1)).toMatchObject({ to: 'AUTO_REJECTED', actor: { kind: 'SYSTEM' } });
  });
});
