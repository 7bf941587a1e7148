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

// Live request updates as ada meets them: the gateway's graphql-ws endpoint, certification's
// Subscription.certificationRequestUpdated, with the programme (certification) and the requester's name
// (identity) on every message. Her request walks the whole journey — upload, submit, automated audit, alan's
// approval, issuance on the local chain — and she sees every status without polling; linus is refused.
let stack: TestStack;
let ada: SignedIn;
let alan: SignedIn;
let linus: SignedIn;
const clients: Client[] = [];

beforeAll(async () => {
  stack = await startPublicTestStack();
  [ada, alan, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.alan),
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

interface Update {
  id: string;
  status: string;
  updatedAt: string;
  programme: { slug: string };
  requester: { displayName: string };
  audit: { status: string; progress: number } | null;
}

const SUBSCRIPTION = `subscription ($id: ID!) {
  certificationRequestUpdated(id: $id) {
    id status updatedAt programme { slug } requester { displayName } audit { status progress }
  }
}`;

function subscribe(client: Client, id: string) {
  const updates: Update[] = [];
  let end!: (outcome: { completed: boolean; error?: unknown }) => void;
  const done = new Promise<{ completed: boolean; error?: unknown }>((resolve) => (end = resolve));
  const unsubscribe = client.subscribe(
    { query: SUBSCRIPTION, variables: { id } },
    {
      next: (result) => {
        const update = (result.data as { certificationRequestUpdated?: Update } | null)
          ?.certificationRequestUpdated;
        if (update) updates.push(update);
        else if (result.errors) end({ completed: false, error: result.errors });
      },
      error: (error) => end({ completed: false, error }),
      complete: () => end({ completed: true }),
    },
  );
  return { updates, done, unsubscribe, statuses: () => [...new Set(updates.map((u) => u.status))] };
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const UPLOAD = `mutation ($requestId: ID!, $size: Int!) {
  createEvidenceUpload(requestId: $requestId, evidenceKey: "portfolio", fileName: "portfolio.pdf", mediaType: "application/pdf", size: $size) {
    ok error { code message } upload { url }
  }
}`;

describe('live certification request updates through the gateway (graphql-ws, federated)', () => {
  let requestId: string;

  it('streams ada her request from SUBMITTED to ISSUED, with fields from other subgraphs', async () => {
    const programme = await stack.graphql('{ programme(slug: "foundations") { id } }');
    const created = await stack.graphql(
      'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code } request { id } } }',
      { id: programme.body.data!.programme.id },
      ada.headers,
    );
    expect(created.body.data!.createCertificationRequest.ok).toBe(true);
    requestId = created.body.data!.createCertificationRequest.request.id;

    const live = subscribe(connect(ada), requestId);
    // The first message is the current state.
    await until(() => live.updates.length >= 1, 'the first message');
    expect(live.updates[0]).toMatchObject({
      id: requestId,
      status: 'DRAFT',
      programme: { slug: 'foundations' },
      requester: { displayName: expect.any(String) },
    });

    const portfolio = minimalPdf();
    const ticket = await stack.graphql(UPLOAD, { requestId, size: portfolio.length }, ada.headers);
    const put = await fetch(ticket.body.data!.createEvidenceUpload.upload.url, {
      method: 'PUT',
      body: portfolio,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(put.status).toBe(200);
    const submitted = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
      { id: requestId },
      ada.headers,
    );
    expect(submitted.body.data!.submitCertificationRequest.ok).toBe(true);

    await until(() => live.statuses().includes('AWAITING_REVIEW'), 'AWAITING_REVIEW');
    expect(live.statuses()).toEqual(['DRAFT', 'SUBMITTED', 'AUDITING', 'AWAITING_REVIEW']);
    const awaiting = live.updates.find((update) => update.status === 'AWAITING_REVIEW')!;
    expect(awaiting.audit).toMatchObject({ status: 'PASSED', progress: 100 });
    expect(awaiting.requester.displayName).toBe(live.updates[0]!.requester.displayName);

    const approved = await stack.graphql(
      'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Solid") { ok error { code message } } }',
      { id: requestId },
      alan.headers,
    );
    expect(approved.body.data!.reviewCertificationRequest.ok).toBe(true);
    await until(() => live.statuses().includes('ISSUED'), 'ISSUED', 120_000);
    expect(live.statuses()).toEqual([
      'DRAFT',
      'SUBMITTED',
      'AUDITING',
      'AWAITING_REVIEW',
      'APPROVED',
      'ISSUING',
      'ISSUED',
    ]);
    // Only changes are sent: no two consecutive messages are the same state.
    for (let index = 1; index < live.updates.length; index++) {
      const [before, after] = [live.updates[index - 1]!, live.updates[index]!];
      expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
    }
    live.unsubscribe();
  }, 180_000);

  it('refuses linus on ada’s request, and anyone on an unknown one', async () => {
    const refused = subscribe(connect(linus), requestId);
    const outcome = await refused.done;
    expect(outcome.completed).toBe(false);
    expect(refused.updates).toEqual([]);
    expect(JSON.stringify(outcome.error)).toContain('FORBIDDEN');

    const unknown = subscribe(connect(ada), '00000000-0000-4000-8000-000000000000');
    const missing = await unknown.done;
    expect(missing.completed).toBe(false);
    expect(JSON.stringify(missing.error)).toContain('NOT_FOUND');
  });
});
