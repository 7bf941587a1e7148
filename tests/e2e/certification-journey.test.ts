import { randomUUID } from 'node:crypto';
import { Wallet } from 'ethers';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  devKeys,
  minimalPdf,
  signIn,
  startPublicTestStack,
  type SignedIn,
  type TestStack,
} from '../kit/index.js';

// The certification journey as its people meet it, through the gateway only (HTTP, graphql-ws) and the chain's
// JSON-RPC: symbeon (ADMIN) opens a programme asking for two documents, audited by alan; ada requests it,
// uploads both, the automated audit passes, alan approves, the platform issues it on the local chain. Ada's
// live subscription sees every step; alan's certificateEvents subscription (chain subgraph) sees ISSUED and
// RENEWED (after the automated audit ran again, the programme requiring it) and REVOKED; anyone verifies it
// without signing in. A second certificate (grace's) expires when the chain's time moves past its term. Negative cases on the way: an auditor not assigned to the programme, an illegal
// transition, a stranger's subscription. (It replaced certification-live.test.ts, which walked the same road.)
let stack: TestStack;
let symbeon: SignedIn;
let ada: SignedIn;
let alan: SignedIn;
let grace: SignedIn;
let linus: SignedIn;
const clients: Client[] = [];

beforeAll(async () => {
  // The expiry sweep every second, so expiry shows within the test's patience.
  stack = await startPublicTestStack({ CERTIFICATION_EXPIRY_SWEEP_SECONDS: '1' });
  [symbeon, ada, alan, grace, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.grace),
    signIn(stack.graphql, devKeys.linus),
  ]);
}, 180_000);

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await stack?.stop();
});

function connect(signedIn: SignedIn): Client {
  const client = createClient({
    url: `${stack.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${signedIn.accessToken}` },
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

/** Every `next` payload of one subscription, and how it ended. */
function subscribe<T>(client: Client, query: string, variables: Record<string, unknown>, field: string) {
  const items: T[] = [];
  let end!: (outcome: { completed: boolean; error?: unknown }) => void;
  const done = new Promise<{ completed: boolean; error?: unknown }>((resolve) => (end = resolve));
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (result) => {
        const item = (result.data as Record<string, T> | null | undefined)?.[field];
        if (item) items.push(item);
        else if (result.errors) end({ completed: false, error: result.errors });
      },
      error: (error) => end({ completed: false, error }),
      complete: () => end({ completed: true }),
    },
  );
  return { items, done, unsubscribe };
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rpc(method: string, params: unknown[]) {
  const response = await fetch(stack.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

const REQUEST = `query ($id: ID!) {
  certificationRequest(id: $id) {
    status
    audit { status passed checks { name passed } }
    certificate { id tokenId status expiresAt holder { address } }
  }
}`;

const VERIFY = `query ($id: ID) {
  verifyCertificate(id: $id) { verdict valid steps { name passed detail } }
}`;

const LIVE = `subscription ($id: ID!) {
  certificationRequestUpdated(id: $id) { id status updatedAt programme { slug } requester { displayName } audit { status progress } }
}`;

const EVENTS = `subscription ($holder: String) {
  certificateEvents(filter: { holder: $holder }) { type tokenId holder { address user { handle } } }
}`;

async function requestOf(id: string, as: SignedIn) {
  const seen = await stack.graphql(REQUEST, { id }, as.headers);
  expect(seen.body.errors).toBeUndefined();
  return seen.body.data!.certificationRequest as {
    status: string;
    audit: {
      status: string;
      passed: boolean | null;
      checks: Array<{ name: string; passed: boolean }>;
    } | null;
    certificate: null | {
      id: string;
      tokenId: string;
      status: string;
      expiresAt: string;
      holder: { address: string };
    };
  };
}

const statusIs = (id: string, as: SignedIn, status: string) => async () =>
  (await requestOf(id, as)).status === status ? true : undefined;

/** Opens, documents (both evidence types, through the single-use upload URLs) and submits a request. */
async function documentedRequest(programmeId: string, as: SignedIn): Promise<string> {
  const created = await stack.graphql(
    'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code message } request { id } } }',
    { id: programmeId },
    as.headers,
  );
  expect(created.body.data!.createCertificationRequest).toMatchObject({ ok: true });
  return created.body.data!.createCertificationRequest.request.id as string;
}

async function upload(requestId: string, as: SignedIn, evidenceKey: string) {
  const document = minimalPdf();
  const ticket = await stack.graphql(
    `mutation ($id: ID!, $key: String!, $size: Int!) {
      createEvidenceUpload(requestId: $id, evidenceKey: $key, fileName: "document.pdf", mediaType: "application/pdf", size: $size) {
        ok error { code message } uploadUrl
      }
    }`,
    { id: requestId, key: evidenceKey, size: document.length },
    as.headers,
  );
  expect(ticket.body.data!.createEvidenceUpload).toMatchObject({ ok: true });
  const put = await fetch(ticket.body.data!.createEvidenceUpload.uploadUrl as string, {
    method: 'PUT',
    body: document,
    headers: { 'content-type': 'application/pdf' },
  });
  expect(put.status).toBe(200);
}

async function submit(requestId: string, as: SignedIn) {
  const submitted = await stack.graphql(
    'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
    { id: requestId },
    as.headers,
  );
  expect(submitted.body.data!.submitCertificationRequest).toMatchObject({ ok: true });
}

async function review(requestId: string, as: SignedIn, decision: 'APPROVE' | 'REJECT') {
  const reviewed = await stack.graphql(
    `mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: ${decision}, comment: "Reviewed") { ok error { code message } } }`,
    { id: requestId },
    as.headers,
  );
  expect(reviewed.body.errors).toBeUndefined();
  return reviewed.body.data!.reviewCertificationRequest as { ok: boolean; error: { code: string } | null };
}

describe('the certification journey, through the gateway', () => {
  let programmeId: string;
  let requestId: string;
  let certificateId: string;
  let tokenId: string;
  let events: ReturnType<
    typeof subscribe<{ type: string; tokenId: string; holder: { user: { handle: string } | null } }>
  >;

  it('symbeon opens a programme asking for two documents, audited by alan', async () => {
    const created = await stack.graphql(
      `mutation ($input: CreateProgrammeInput!) { createProgramme(input: $input) { ok error { code message } programme { id } } }`,
      {
        input: {
          slug: `journey-${randomUUID().slice(0, 8)}`,
          name: 'Symbeon Journey',
          description: 'Two documents, one auditor, sixty days, re-audited on renewal.',
          requiredEvidence: [
            { key: 'portfolio', label: 'Portfolio', mediaTypes: ['application/pdf'], maxBytes: 1_000_000 },
            { key: 'transcript', label: 'Transcript', mediaTypes: ['application/pdf'], maxBytes: 1_000_000 },
          ],
          validityDays: 60,
          renewalRequiresAudit: true,
          auditorIds: [alan.userId],
        },
      },
      symbeon.headers,
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createProgramme).toMatchObject({ ok: true });
    programmeId = created.body.data!.createProgramme.programme.id as string;
    const published = await stack.graphql(
      'mutation ($id: ID!) { publishProgramme(id: $id) { ok programme { status } } }',
      { id: programmeId },
      symbeon.headers,
    );
    expect(published.body.data!.publishProgramme).toMatchObject({
      ok: true,
      programme: { status: 'PUBLISHED' },
    });
  });

  it('takes ada from request to an issued certificate; her subscription sees each step, alan’s chain events see ISSUED', async () => {
    // alan (AUDITOR: certificates:read) follows ada's certificates on chain.
    events = subscribe(
      connect(alan),
      EVENTS,
      { holder: new Wallet(devKeys.ada).address },
      'certificateEvents',
    );
    requestId = await documentedRequest(programmeId, ada);
    const live = subscribe<{
      status: string;
      programme: { slug: string };
      requester: { displayName: string };
      audit: { status: string } | null;
    }>(connect(ada), LIVE, { id: requestId }, 'certificationRequestUpdated');
    await until(() => (live.items.length > 0 ? true : undefined), 'the first live message');

    await upload(requestId, ada, 'portfolio');
    // Not without the second document.
    const early = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code } } }',
      { id: requestId },
      ada.headers,
    );
    expect(early.body.data!.submitCertificationRequest.ok).toBe(false);
    await upload(requestId, ada, 'transcript');
    await submit(requestId, ada);
    await until(statusIs(requestId, ada, 'AWAITING_REVIEW'), 'the automated audit');
    const audited = await requestOf(requestId, ada);
    expect(audited.audit).toMatchObject({ status: 'PASSED', passed: true });
    expect(audited.audit!.checks.filter((check) => check.passed === false)).toEqual([]);

    // An illegal transition (ada cannot submit twice) is refused and changes nothing.
    const again = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code } } }',
      { id: requestId },
      ada.headers,
    );
    expect(again.body.data!.submitCertificationRequest).toMatchObject({
      ok: false,
      error: { code: 'INVALID_TRANSITION' },
    });
    // An auditor who is not assigned to the programme cannot decide: symbeon makes grace an AUDITOR.
    const granted = await stack.graphql(
      'mutation ($id: ID!) { grantRole(userId: $id, role: AUDITOR, reason: "journey test") { ok error { code message } } }',
      { id: grace.userId },
      symbeon.headers,
    );
    expect(granted.body.data!.grantRole).toMatchObject({ ok: true });
    const graceAuditor = await signIn(stack.graphql, devKeys.grace);
    const refused = await stack.graphql(
      `mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Not mine") { ok error { code } } }`,
      { id: requestId },
      graceAuditor.headers,
    );
    const refusal = refused.body.data?.reviewCertificationRequest as
      { ok: boolean; error: { code: string } } | undefined;
    expect(refusal?.ok ?? false).toBe(false);
    expect(['FORBIDDEN', 'NOT_FOUND']).toContain(
      refusal?.error.code ?? refused.body.errors?.[0]?.extensions?.code,
    );
    expect((await requestOf(requestId, ada)).status).toBe('AWAITING_REVIEW');

    expect(await review(requestId, alan, 'APPROVE')).toMatchObject({ ok: true });
    await until(statusIs(requestId, ada, 'ISSUED'), 'ISSUED', 120_000);
    const issued = await requestOf(requestId, ada);
    certificateId = issued.certificate!.id;
    tokenId = issued.certificate!.tokenId;
    expect(issued.certificate).toMatchObject({ status: 'VALID' });

    await until(
      () => (live.items.some((item) => item.status === 'ISSUED') ? true : undefined),
      'live ISSUED',
    );
    expect([...new Set(live.items.map((item) => item.status))]).toEqual([
      'DRAFT',
      'SUBMITTED',
      'AUDITING',
      'AWAITING_REVIEW',
      'APPROVED',
      'ISSUING',
      'ISSUED',
    ]);
    const issuedEvent = await until(
      () => events.items.find((event) => event.type === 'ISSUED' && event.tokenId === tokenId),
      'certificateEvents ISSUED',
    );
    expect(issuedEvent.holder.user?.handle).toBeTruthy();
    // Every message carries fields of other subgraphs (the requester's name from identity); only changes are sent.
    for (const item of live.items) {
      expect(item.programme.slug).toMatch(/^journey-/);
      expect(item.requester.displayName).toBeTruthy();
    }
    for (let index = 1; index < live.items.length; index++)
      expect(JSON.stringify(live.items[index])).not.toBe(JSON.stringify(live.items[index - 1]));
    live.unsubscribe();

    // A stranger cannot follow ada's request, nor anyone an unknown one.
    const stranger = subscribe(connect(linus), LIVE, { id: requestId }, 'certificationRequestUpdated');
    const outcome = await stranger.done;
    expect(outcome.completed).toBe(false);
    expect(stranger.items).toEqual([]);
    expect(JSON.stringify(outcome.error)).toContain('FORBIDDEN');
    const unknown = subscribe(connect(ada), LIVE, { id: randomUUID() }, 'certificationRequestUpdated');
    expect(JSON.stringify((await unknown.done).error)).toContain('NOT_FOUND');
  }, 240_000);

  it('verifies without signing in: valid, with every step passed', async () => {
    const verified = await stack.graphql(VERIFY, { id: certificateId });
    expect(verified.body.errors).toBeUndefined();
    const verification = verified.body.data!.verifyCertificate as {
      verdict: string;
      valid: boolean;
      steps: Array<{ name: string; passed: boolean }>;
    };
    expect(verification).toMatchObject({ verdict: 'VALID', valid: true });
    expect(verification.steps.length).toBeGreaterThanOrEqual(8);
    expect(verification.steps.filter((step) => !step.passed)).toEqual([]);
    const unknown = await stack.graphql(VERIFY, { id: randomUUID() });
    expect(unknown.body.data!.verifyCertificate).toMatchObject({ verdict: 'UNKNOWN', valid: false });

    // The shareable link (and its QR code) opens a page through the gateway: the same checks, for people.
    const link = await stack.graphql('query ($id: ID!) { certificate(id: $id) { verificationUrl } }', {
      id: certificateId,
    });
    const verificationUrl = link.body.data!.certificate.verificationUrl as string;
    expect(verificationUrl).toBe(`${stack.url}/verify/${certificateId}`);
    const pageResponse = await fetch(verificationUrl);
    expect(pageResponse.status).toBe(200);
    expect(pageResponse.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await pageResponse.text();
    expect(html).toContain('Valid certificate');
    expect(html).toContain('Symbeon Journey');
    expect(html).toContain('<svg');
    const asJson = await fetch(verificationUrl, { headers: { accept: 'application/json' } });
    expect(await asJson.json()).toMatchObject({ verdict: 'VALID', valid: true });
    expect((await fetch(`${stack.url}/verify/${randomUUID()}`)).status).toBe(404);
    expect((await fetch(`${stack.url}/verify/%3Cscript%3E`)).status).toBe(404);
  });

  it('renews it after the automated audit ran again: the renewal window opens on the chain’s clock, RENEWED on chain', async () => {
    const before = (await requestOf(requestId, ada)).certificate!;
    const early = await stack.graphql(
      'mutation ($id: ID!) { renewCertificate(id: $id) { ok error { code } } }',
      { id: certificateId },
      ada.headers,
    );
    expect(early.body.data!.renewCertificate).toMatchObject({ ok: false, error: { code: 'INVALID_STATE' } });
    // Thirty-one days later on the chain: within the 30-day renewal window of a 60-day certificate.
    await rpc('evm_increaseTime', [31 * 86_400]);
    await rpc('evm_mine', []);
    await until(statusIs(requestId, ada, 'RENEWAL_DUE'), 'RENEWAL_DUE');
    const renewed = await stack.graphql(
      'mutation ($id: ID!) { renewCertificate(id: $id) { ok error { code message } } }',
      { id: certificateId },
      ada.headers,
    );
    expect(renewed.body.data!.renewCertificate).toMatchObject({ ok: true });
    const RENEWAL = `query ($id: ID!) { certificate(id: $id) { expiresAt renewalAudit { status passed reportUrl } } }`;
    const audit = await until(async () => {
      const seen = await stack.graphql(RENEWAL, { id: certificateId }, ada.headers);
      const renewal = seen.body.data?.certificate?.renewalAudit as {
        status: string;
        reportUrl: string;
      } | null;
      return renewal?.status === 'PASSED' ? renewal : undefined;
    }, 'the renewal audit');
    const report = (await (await fetch(audit.reportUrl)).json()) as { kind: string; passed: boolean };
    expect(report).toMatchObject({ kind: 'symbeon.certification.renewal-audit-report', passed: true });
    // Others do not see the renewal audit.
    const hidden = await stack.graphql(RENEWAL, { id: certificateId }, linus.headers);
    expect(hidden.body.data?.certificate?.renewalAudit ?? null).toBeNull();

    await until(statusIs(requestId, ada, 'RENEWED'), 'RENEWED', 120_000);
    const after = (await requestOf(requestId, ada)).certificate!;
    expect(Date.parse(after.expiresAt) - Date.parse(before.expiresAt)).toBe(60 * 86_400_000);
    await until(
      () => events.items.find((event) => event.type === 'RENEWED' && event.tokenId === tokenId),
      'certificateEvents RENEWED',
    );
    const verified = await stack.graphql(VERIFY, { id: certificateId });
    expect(verified.body.data!.verifyCertificate).toMatchObject({ verdict: 'VALID', valid: true });
  }, 180_000);

  it('revokes it on chain with a reason: verification says revoked, the request and the chain events follow', async () => {
    const denied = await stack.graphql(
      'mutation ($id: ID!) { revokeCertificate(id: $id, reason: "no") { ok error { code } } }',
      { id: certificateId },
      ada.headers,
    );
    expect(denied.body.data?.revokeCertificate?.ok ?? false).toBe(false);
    const revoked = await stack.graphql(
      'mutation ($id: ID!) { revokeCertificate(id: $id, reason: "Evidence withdrawn") { ok error { code message } } }',
      { id: certificateId },
      symbeon.headers,
    );
    expect(revoked.body.data!.revokeCertificate).toMatchObject({ ok: true });
    await until(statusIs(requestId, ada, 'REVOKED'), 'REVOKED');
    const verified = await stack.graphql(VERIFY, { id: certificateId });
    expect(verified.body.data!.verifyCertificate).toMatchObject({ verdict: 'REVOKED', valid: false });
    expect(await (await fetch(`${stack.url}/verify/${certificateId}`)).text()).toContain('Revoked');
    await until(
      () => events.items.find((event) => event.type === 'REVOKED' && event.tokenId === tokenId),
      'certificateEvents REVOKED',
    );
    events.unsubscribe();
  }, 120_000);

  it('expires grace’s certificate when the chain’s time passes its term: the request and verification say so', async () => {
    const graceRequest = await documentedRequest(programmeId, grace);
    await upload(graceRequest, grace, 'portfolio');
    await upload(graceRequest, grace, 'transcript');
    await submit(graceRequest, grace);
    await until(statusIs(graceRequest, grace, 'AWAITING_REVIEW'), 'the automated audit');
    expect(await review(graceRequest, alan, 'APPROVE')).toMatchObject({ ok: true });
    await until(statusIs(graceRequest, grace, 'ISSUED'), 'ISSUED', 120_000);
    const { certificate } = await requestOf(graceRequest, grace);
    expect((await stack.graphql(VERIFY, { id: certificate!.id })).body.data!.verifyCertificate.verdict).toBe(
      'VALID',
    );

    // Sixty-one days later, on the chain's clock.
    await rpc('evm_increaseTime', [61 * 86_400]);
    await rpc('evm_mine', []);
    await until(statusIs(graceRequest, grace, 'EXPIRED'), 'EXPIRED');
    expect((await requestOf(graceRequest, grace)).certificate?.status).toBe('EXPIRED');
    const verified = await stack.graphql(VERIFY, { id: certificate!.id });
    expect(verified.body.data!.verifyCertificate).toMatchObject({ verdict: 'EXPIRED', valid: false });
  }, 240_000);
});
