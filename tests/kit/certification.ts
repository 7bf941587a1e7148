import type { SignedIn } from './auth.js';
import { minimalPdf } from './documents.js';
import type { GraphQLRequest } from './graphql.js';

/** Polls `probe` until it answers something other than undefined (every 250 ms, `ms` at most). */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The payload of one mutation, or an error naming what went wrong (GraphQL errors or `ok: false`). */
async function mutate(
  graphql: GraphQLRequest,
  field: string,
  query: string,
  variables: Record<string, unknown>,
  as: SignedIn,
): Promise<Record<string, unknown>> {
  const response = await graphql(query, variables, as.headers);
  const payload = response.body.data?.[field] as { ok?: boolean; error?: unknown } | undefined;
  if (response.body.errors || !payload?.ok)
    throw new Error(`${field} failed: ${JSON.stringify(response.body.errors ?? payload?.error)}`);
  return payload;
}

export async function requestStatus(graphql: GraphQLRequest, requestId: string, as: SignedIn) {
  const seen = await graphql(
    'query ($id: ID!) { certificationRequest(id: $id) { status } }',
    { id: requestId },
    as.headers,
  );
  const status = (seen.body.data?.certificationRequest as { status?: string } | null | undefined)?.status;
  if (!status) throw new Error(`request ${requestId} not readable: ${JSON.stringify(seen.body.errors)}`);
  return status;
}

/**
 * A certification request walked through the gateway as people do it: `requester` opens it on the programme,
 * uploads one PDF per evidence key through the single-use upload URLs, submits it; the automated audit passes
 * it to AWAITING_REVIEW and `auditor` approves it. Resolves with the request id once it reached `until`
 * (AWAITING_PAYMENT for a priced programme).
 */
export async function approvedCertificationRequest(
  graphql: GraphQLRequest,
  options: {
    programmeId: string;
    requester: SignedIn;
    auditor: SignedIn;
    evidenceKeys: readonly string[];
    reach?: string;
  },
): Promise<string> {
  const { requester } = options;
  const created = await mutate(
    graphql,
    'createCertificationRequest',
    'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code message } request { id } } }',
    { id: options.programmeId },
    requester,
  );
  const requestId = (created.request as { id: string }).id;
  for (const key of options.evidenceKeys) {
    const document = minimalPdf(key);
    const ticket = await mutate(
      graphql,
      'createEvidenceUpload',
      `mutation ($id: ID!, $key: String!, $size: Int!) { createEvidenceUpload(requestId: $id, evidenceKey: $key,
        fileName: "document.pdf", mediaType: "application/pdf", size: $size) { ok error { code message } uploadUrl } }`,
      { id: requestId, key, size: document.length },
      requester,
    );
    const put = await fetch(ticket.uploadUrl as string, {
      method: 'PUT',
      body: document,
      headers: { 'content-type': 'application/pdf' },
    });
    if (put.status !== 200) throw new Error(`upload of ${key} answered ${put.status}`);
  }
  await mutate(
    graphql,
    'submitCertificationRequest',
    'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
    { id: requestId },
    requester,
  );
  const reached = (status: string) => async () =>
    (await requestStatus(graphql, requestId, requester)) === status ? true : undefined;
  await until(reached('AWAITING_REVIEW'), 'the automated audit');
  await mutate(
    graphql,
    'reviewCertificationRequest',
    'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Good") { ok error { code message } } }',
    { id: requestId },
    options.auditor,
  );
  if (options.reach) await until(reached(options.reach), options.reach);
  return requestId;
}
