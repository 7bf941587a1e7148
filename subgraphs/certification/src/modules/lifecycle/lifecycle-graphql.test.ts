import { randomBytes, randomUUID } from 'node:crypto';
import {
  createLogger,
  createMemoryEventTransport,
  INTERNAL_TOKEN_HEADER,
  signInternalToken,
  type Principal,
} from '@symbeon/kernel';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificationEnv } from '../../env.js';
import { startCertification, type CertificationService } from '../../service.js';

// The lifecycle mutations as the gateway calls them: the running subgraph, internal tokens, the shield
// rules, `{ ok error }` results (the chain round trips are in lifecycle.test.ts).
const secret = `certification-lifecycle-test-${randomBytes(16).toString('hex')}`;
let service: CertificationService;
let cleanup: () => Promise<void>;

const principal = (roles: string[] = []): Principal => ({
  kind: 'user',
  userId: randomUUID(),
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});

beforeAll(async () => {
  const target = await createTestDatabaseTarget();
  cleanup = target.cleanup;
  const env = parseCertificationEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    CERTIFICATION_PORT: '0',
    INTERNAL_AUTH_SECRET: secret,
    CERTIFICATION_EXPIRY_SWEEP_SECONDS: '1',
  });
  service = await startCertification({
    env,
    logger: createLogger('certification-lifecycle-test', { level: 'silent' }),
    transport: createMemoryEventTransport(),
  });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await cleanup?.();
});

async function graphql(as: Principal, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [INTERNAL_TOKEN_HEADER]: await signInternalToken(secret, as, randomUUID()),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as {
    data?: Record<string, { ok: boolean; error: { code: string } | null } | null> | null;
    errors?: Array<{ message: string; extensions?: { code?: string } }>;
  };
}

const revoke = `mutation ($id: ID!, $reason: String!) {
  revokeCertificate(id: $id, reason: $reason) { ok error { code message } certificate { id } }
}`;
const renew = `mutation ($id: ID!) { renewCertificate(id: $id) { ok error { code message } certificate { id } } }`;

describe('lifecycle mutations in the subgraph', () => {
  it('refuses revocation to members (shield), and answers NOT_FOUND to issuers for unknown certificates', async () => {
    const member = await graphql(principal(), revoke, { id: randomUUID(), reason: 'x' });
    expect(member.data?.revokeCertificate ?? null).toBeNull();
    expect(member.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const issuer = await graphql(principal(['ISSUER']), revoke, { id: randomUUID(), reason: 'fraud' });
    expect(issuer.data?.revokeCertificate).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const admin = await graphql(principal(['ADMIN']), revoke, { id: 'not-a-uuid', reason: 'fraud' });
    expect(admin.data?.revokeCertificate).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('answers renewal of an unknown certificate with NOT_FOUND', async () => {
    const answer = await graphql(principal(), renew, { id: randomUUID() });
    expect(answer.data?.renewCertificate).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('keeps the issuance retry to issuers and administrators, and answers NOT_FOUND for unknown requests', async () => {
    const retry = `mutation ($id: ID!) { retryCertificateIssuance(requestId: $id) { ok error { code } } }`;
    const member = await graphql(principal(), retry, { id: randomUUID() });
    expect(member.data?.retryCertificateIssuance ?? null).toBeNull();
    expect(member.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const issuer = await graphql(principal(['ISSUER']), retry, { id: randomUUID() });
    expect(issuer.data?.retryCertificateIssuance).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('keeps sweeping on its timer without failing on an empty database', async () => {
    const before = await service.modules.lifecycle.sweep();
    expect(before).toEqual({ expired: 0, renewalDue: 0 });
  });
});
