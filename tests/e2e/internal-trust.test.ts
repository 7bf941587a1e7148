import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS, INTERNAL_TOKEN_HEADER, signInternalToken } from '@symbeon/kernel';
import { errorCodes, graphqlClient, startTestStack, type TestStack } from '../kit/index.js';

// DESIGN.md, "Auth": only the gateway authenticates callers; subgraphs trust nothing but its signed
// internal token, and wrong credentials at the gateway are an error, never a quiet anonymous.
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const publicCatalogue = '{ courses(first: 2) { edges { node { title instructor { displayName } } } } }';
const notFromGateway = {
  message: 'This service only accepts requests from the Symbeon gateway',
  extensions: { code: 'UNAUTHENTICATED' },
};

describe('a subgraph reached without the gateway', () => {
  it('refuses a request sent straight to its port without the gateway token', async () => {
    for (const [name, origin] of Object.entries(stack.subgraphUrls)) {
      const response = await graphqlClient(`${origin}/graphql`)('{ __typename }');
      expect(response.status, name).toBe(401);
      expect(response.body).toEqual({ errors: [notFromGateway] });
    }
  });

  it('refuses a token signed with another secret, and client credentials', async () => {
    const learning = graphqlClient(`${stack.subgraphUrls.learning}/graphql`);
    const forged = await signInternalToken('not-the-gateway-secret-but-long-enough-0000', ANONYMOUS, 'x');
    const withForged = await learning(publicCatalogue, undefined, { [INTERNAL_TOKEN_HEADER]: forged });
    expect(withForged.status).toBe(401);
    expect(errorCodes(withForged)).toEqual(['UNAUTHENTICATED']);
    const withBearer = await learning(publicCatalogue, undefined, { authorization: `Bearer ${forged}` });
    expect(withBearer.status).toBe(401);
    expect(withBearer.body.data).toBeUndefined();
  });

  it('still answers health and metrics', async () => {
    for (const origin of Object.values(stack.subgraphUrls)) {
      expect((await fetch(`${origin}/health`)).status).toBe(200);
      expect((await fetch(`${origin}/ready`)).status).toBe(200);
      expect((await fetch(`${origin}/metrics`)).status).toBe(200);
    }
  });
});

describe('credentials at the gateway', () => {
  it('no credentials: anonymous, and public data across subgraphs still works', async () => {
    const response = await stack.graphql(publicCatalogue);
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.courses.edges).toHaveLength(2);
    expect(response.body.data!.courses.edges[0].node.instructor.displayName).toEqual(expect.any(String));
  });

  it('a garbage Bearer token is 401 UNAUTHENTICATED with a challenge, never anonymous', async () => {
    for (const token of ['garbage', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const response = await stack.graphql(publicCatalogue, undefined, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        errors: [{ message: 'invalid token', extensions: { code: 'UNAUTHENTICATED' } }],
      });
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      expect(response.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('a wrong API key is 401, never anonymous', async () => {
    const response = await stack.graphql(publicCatalogue, undefined, { 'x-api-key': 'sk_live_123' });
    expect(response.status).toBe(401);
    expect(response.body.errors).toEqual([
      { message: 'invalid API key', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('counts authentication outcomes', async () => {
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/gateway_authentications_total\{[^}]*outcome="anonymous"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_authentications_total\{[^}]*outcome="malformed"[^}]*\} [1-9]/);
  });

  it("serves identity's JWKS as is at /.well-known/jwks.json", async () => {
    const direct = await fetch(`${stack.subgraphUrls.identity}/.well-known/jwks.json`);
    const proxied = await fetch(`${stack.url}/.well-known/jwks.json`);
    expect(proxied.status).toBe(direct.status);
    expect(await proxied.text()).toBe(await direct.text());
    expect((await fetch(`${stack.url}/.well-known/jwks.json`, { method: 'POST' })).status).toBe(405);
  });
});
