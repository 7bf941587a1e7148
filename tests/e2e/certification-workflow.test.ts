import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeys, errorCodes, signIn, startTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// The certification workflow through the gateway only: an administrator builds a programme, a learner
// attaches the evidence, submits, and the automated audit rejects the request (the prerequisite course is
// not completed); the auditor's and strangers' views. The passing audit and the review are in
// certification-audit.test.ts.
let stack: TestStack;
let admin: SignedIn;
let ada: SignedIn;
let alan: SignedIn;
let linus: SignedIn;

beforeAll(async () => {
  stack = await startTestStack();
  [admin, ada, alan, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.linus),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

const PROGRAMME_FIELDS = `id slug name status validityDays issuanceMode price { amountMinor currency }
  requiredEvidence { key mediaTypes maxBytes mandatory } auditChecklist { key mandatory }
  auditors { id handle } prerequisites { id title }`;

const CREATE_PROGRAMME = `mutation ($input: CreateProgrammeInput!) {
  createProgramme(input: $input) { ok error { code message field } programme { ${PROGRAMME_FIELDS} } }
}`;

const REQUEST_FIELDS = `id status programme { slug } requester { handle }
  auditTrail { from to reason actor { kind user { handle } name } }`;

const CREATE_REQUEST = `mutation ($programmeId: ID!) {
  createCertificationRequest(programmeId: $programmeId) { ok error { code message field } request { ${REQUEST_FIELDS} } }
}`;

const GET_REQUEST = `query ($id: ID!) { certificationRequest(id: $id) { ${REQUEST_FIELDS} } }`;

describe('the seeded catalogue', () => {
  it('lists the free Foundations programme and the priced Professional one to anyone, alan auditing both', async () => {
    const response = await stack.graphql(
      '{ programmes(first: 10) { edges { node { slug name price { amountMinor currency } auditors { handle } } } } }',
    );
    expect(response.body.errors).toBeUndefined();
    const nodes = response.body.data!.programmes.edges.map((edge: any) => edge.node);
    expect(nodes).toEqual(
      expect.arrayContaining([
        { slug: 'foundations', name: 'Symbeon Foundations', price: null, auditors: [{ handle: 'alan' }] },
        {
          slug: 'professional',
          name: 'Symbeon Professional',
          price: { amountMinor: 4900, currency: 'EUR' },
          auditors: [{ handle: 'alan' }],
        },
      ]),
    );
  });
});

describe('a certification request, from programme to submission', () => {
  let programmeId: string;
  let requestId: string;

  it('lets only administrators create programmes; bad input is refused with the field and writes nothing', async () => {
    const courses = await stack.graphql('{ courses(first: 1) { edges { node { id title } } } }');
    const course = courses.body.data!.courses.edges[0].node;
    const input = {
      slug: 'e2e-auditing',
      name: 'Auditing Practice',
      description: 'Audit a sample request end to end.',
      requiredEvidence: [
        { key: 'report', label: 'Report', mediaTypes: ['application/pdf'], maxBytes: 1_000_000 },
      ],
      prerequisiteCourseIds: [course.id],
      validityDays: 180,
      auditChecklist: [{ key: 'report_present', label: 'The report is attached' }],
      auditorIds: [alan.userId],
    };

    const refused = await stack.graphql(CREATE_PROGRAMME, { input }, linus.headers);
    expect(refused.body.data).toBeNull();
    expect(errorCodes(refused)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);

    const bad = await stack.graphql(
      CREATE_PROGRAMME,
      { input: { ...input, price: { amountMinor: 100, currency: 'EURO' } } },
      admin.headers,
    );
    expect(bad.body.data!.createProgramme).toMatchObject({
      ok: false,
      error: { code: 'BAD_USER_INPUT', field: 'input.price.currency' },
      programme: null,
    });
    const none = await stack.graphql('{ programme(slug: "e2e-auditing") { id } }', undefined, admin.headers);
    expect(none.body.data!.programme).toBeNull();

    const created = await stack.graphql(CREATE_PROGRAMME, { input }, admin.headers);
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createProgramme).toMatchObject({
      ok: true,
      error: null,
      programme: {
        slug: 'e2e-auditing',
        status: 'DRAFT',
        price: null,
        issuanceMode: 'SINGLE',
        requiredEvidence: [
          { key: 'report', mediaTypes: ['application/pdf'], maxBytes: 1_000_000, mandatory: true },
        ],
        auditChecklist: [{ key: 'report_present', mandatory: true }],
        // Resolved by identity and learning through federation.
        auditors: [{ id: alan.userId, handle: 'alan' }],
        prerequisites: [{ id: course.id, title: course.title }],
      },
    });
    programmeId = created.body.data!.createProgramme.programme.id;

    // A draft is invisible to others, and accepts no requests.
    const hidden = await stack.graphql(`{ programme(slug: "e2e-auditing") { id } }`, undefined, ada.headers);
    expect(hidden.body.data!.programme).toBeNull();
    const early = await stack.graphql(CREATE_REQUEST, { programmeId }, ada.headers);
    expect(early.body.data!.createCertificationRequest.error.code).toBe('NOT_FOUND');

    const published = await stack.graphql(
      'mutation ($id: ID!) { publishProgramme(id: $id) { ok error { code } programme { status } } }',
      { id: programmeId },
      admin.headers,
    );
    expect(published.body.data!.publishProgramme).toEqual({
      ok: true,
      error: null,
      programme: { status: 'PUBLISHED' },
    });
  });

  it('ada opens one request (a second is refused) and submits it; the trail records both steps', async () => {
    const anonymous = await stack.graphql(CREATE_REQUEST, { programmeId });
    expect(anonymous.body.data).toBeNull();
    expect(errorCodes(anonymous)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);

    const created = await stack.graphql(CREATE_REQUEST, { programmeId }, ada.headers);
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createCertificationRequest).toMatchObject({
      ok: true,
      request: { status: 'DRAFT', programme: { slug: 'e2e-auditing' }, requester: { handle: 'ada' } },
    });
    requestId = created.body.data!.createCertificationRequest.request.id;

    const again = await stack.graphql(CREATE_REQUEST, { programmeId }, ada.headers);
    expect(again.body.data!.createCertificationRequest).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', field: 'programmeId' },
    });

    const early = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code } } }',
      { id: requestId },
      ada.headers,
    );
    expect(early.body.data!.submitCertificationRequest.error.code).toBe('EVIDENCE_MISSING');
    const report = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n', 'latin1');
    const ticket = await stack.graphql(
      `mutation ($id: ID!, $size: Int!) {
        createEvidenceUpload(requestId: $id, evidenceKey: "report", fileName: "report.pdf", mediaType: "application/pdf", size: $size) {
          ok upload { url }
        }
      }`,
      { id: requestId, size: report.length },
      ada.headers,
    );
    // The URL names the configured public origin; this stack's gateway listens on an ephemeral port.
    const uploadPath = new URL(ticket.body.data!.createEvidenceUpload.upload.url).pathname;
    const uploaded = await fetch(`${stack.url}${uploadPath}`, {
      method: 'PUT',
      body: report,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(uploaded.status).toBe(200);

    const submitted = await stack.graphql(
      `mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code } request { ${REQUEST_FIELDS} } } }`,
      { id: requestId },
      ada.headers,
    );
    expect(submitted.body.errors).toBeUndefined();
    expect(submitted.body.data!.submitCertificationRequest).toMatchObject({
      ok: true,
      request: { status: 'SUBMITTED' },
    });
    // The audit may already have moved on by the time the trail is read: the first two entries are ada's.
    expect(submitted.body.data!.submitCertificationRequest.request.auditTrail.slice(0, 2)).toMatchObject([
      {
        from: null,
        to: 'DRAFT',
        reason: null,
        actor: { kind: 'REQUESTER', user: { handle: 'ada' }, name: null },
      },
      { from: 'DRAFT', to: 'SUBMITTED', actor: { kind: 'REQUESTER', user: { handle: 'ada' } } },
    ]);

    // The automated audit takes it from there: ada has not completed the prerequisite course (and the
    // report has no pages).
    let request: any;
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      request = (await stack.graphql(GET_REQUEST, { id: requestId }, ada.headers)).body.data!
        .certificationRequest;
    } while (['SUBMITTED', 'AUDITING'].includes(request.status) && Date.now() < deadline);
    expect(request.status).toBe('AUTO_REJECTED');
    expect(request.auditTrail.slice(2)).toMatchObject([
      { from: 'SUBMITTED', to: 'AUDITING', actor: { kind: 'SYSTEM', user: null, name: 'automated-audit' } },
      {
        from: 'AUDITING',
        to: 'AUTO_REJECTED',
        reason: expect.stringContaining('prerequisite'),
        actor: { kind: 'SYSTEM', name: 'automated-audit' },
      },
    ]);

    const mine = await stack.graphql(
      '{ myCertificationRequests(first: 5) { edges { node { id status } } } }',
      undefined,
      ada.headers,
    );
    expect(mine.body.data!.myCertificationRequests.edges).toContainEqual({
      node: { id: requestId, status: 'AUTO_REJECTED' },
    });
  });

  it('refuses an illegal transition with INVALID_TRANSITION and changes nothing', async () => {
    const review = await stack.graphql(
      'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE) { ok error { code message } request { id } } }',
      { id: requestId },
      alan.headers,
    );
    expect(review.body.data!.reviewCertificationRequest).toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_TRANSITION',
        message: expect.stringContaining('from AUTO_REJECTED to APPROVED'),
      },
      request: null,
    });
    // Not an auditor: the gateway refuses before the subgraph sees it.
    const byAda = await stack.graphql(
      'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE) { ok } }',
      { id: requestId },
      ada.headers,
    );
    expect(errorCodes(byAda)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);
    const after = await stack.graphql(GET_REQUEST, { id: requestId }, ada.headers);
    expect(after.body.data!.certificationRequest.status).toBe('AUTO_REJECTED');
    expect(after.body.data!.certificationRequest.auditTrail).toHaveLength(4);
  });

  it('shows the request to its requester, the assigned auditor and administrators — not to linus', async () => {
    const byLinus = await stack.graphql(GET_REQUEST, { id: requestId }, linus.headers);
    expect(byLinus.body.data!.certificationRequest).toBeNull();
    expect(errorCodes(byLinus)).toEqual(['FORBIDDEN']);
    for (const viewer of [ada, alan, admin]) {
      const seen = await stack.graphql(GET_REQUEST, { id: requestId }, viewer.headers);
      expect(seen.body.errors).toBeUndefined();
      expect(seen.body.data!.certificationRequest).toMatchObject({ id: requestId, status: 'AUTO_REJECTED' });
    }
  });

  it("keeps an auto-rejected request out of alan's review queue", async () => {
    const queue = await stack.graphql(
      '{ reviewQueue(first: 50) { edges { node { id status } } } }',
      undefined,
      alan.headers,
    );
    expect(queue.body.errors).toBeUndefined();
    expect(queue.body.data!.reviewQueue.edges.map((edge: any) => edge.node.id)).not.toContain(requestId);
    const notAnAuditor = await stack.graphql(
      '{ reviewQueue { edges { node { id } } } }',
      undefined,
      linus.headers,
    );
    expect(errorCodes(notAnAuditor)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);
  });

  it('lets ada open a new request once the first ended, and cancel it with a reason; linus cannot', async () => {
    const CANCEL = `mutation ($id: ID!, $reason: String) {
      cancelCertificationRequest(id: $id, reason: $reason) { ok error { code } request { status auditTrail { to reason } } }
    }`;
    const ended = await stack.graphql(CANCEL, { id: requestId, reason: 'too late' }, ada.headers);
    expect(ended.body.data!.cancelCertificationRequest.error.code).toBe('INVALID_TRANSITION');
    const reopened = await stack.graphql(CREATE_REQUEST, { programmeId }, ada.headers);
    expect(reopened.body.data!.createCertificationRequest.ok).toBe(true);
    requestId = reopened.body.data!.createCertificationRequest.request.id;
    const byLinus = await stack.graphql(CANCEL, { id: requestId, reason: 'mine now' }, linus.headers);
    expect(byLinus.body.data!.cancelCertificationRequest).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    const cancelled = await stack.graphql(CANCEL, { id: requestId, reason: 'Not ready yet' }, ada.headers);
    expect(cancelled.body.data!.cancelCertificationRequest).toMatchObject({
      ok: true,
      request: {
        status: 'CANCELLED',
        auditTrail: [{ to: 'DRAFT' }, { to: 'CANCELLED', reason: 'Not ready yet' }],
      },
    });
  });
});
