import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  devKeys,
  errorCodes,
  graphqlClient,
  signIn,
  siweMessage,
  startProcess,
  startTestStack,
  type RunningProcess,
  type SignedIn,
  type TestStack,
} from '../kit/index.js';

// Identity and access as users meet them, through the gateway only: signing in with a wallet, tokens,
// sessions, roles, API keys, and the authorization directives.
let stack: TestStack;
let admin: SignedIn;
let linus: SignedIn;

beforeAll(async () => {
  stack = await startTestStack();
  [admin, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.linus),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

const SIGN_IN = `mutation($message: String!, $signature: String!) {
  signInWithEthereum(message: $message, signature: $signature) { ok error { code } accessToken refreshToken user { handle } }
}`;

describe('Sign-In with Ethereum through the gateway', () => {
  it('signs a demo user in with their dev wallet; the token names them, their roles and scopes', async () => {
    const viewer = await stack.graphql(
      '{ viewer { handle roles wallets { address } } }',
      undefined,
      admin.headers,
    );
    expect(viewer.body.errors).toBeUndefined();
    expect(viewer.body.data!.viewer).toEqual({
      handle: 'symbeon',
      roles: ['MEMBER', 'ISSUER', 'ADMIN'],
      wallets: [{ address: new Wallet(devKeys.symbeon).address }],
    });
    const claims = JSON.parse(Buffer.from(admin.accessToken.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      sub: admin.userId,
      sid: admin.sessionId,
      aud: 'symbeon-api',
      tier: 'FREE',
    });
    expect(claims.scopes).toContain('roles:admin');
  });

  it("creates the user on a new wallet's first sign-in", async () => {
    const wallet = Wallet.createRandom();
    const message = await siweMessage(stack.graphql, wallet.address);
    const response = await stack.graphql(SIGN_IN, { message, signature: await wallet.signMessage(message) });
    expect(response.body.data!.signInWithEthereum).toMatchObject({
      ok: true,
      user: { handle: `0x${wallet.address.slice(2, 10).toLowerCase()}` },
    });
  });

  it("refuses a replayed message, another site's message and another key's signature, each with its code", async () => {
    const wallet = new Wallet(devKeys.grace);
    const message = await siweMessage(stack.graphql, wallet.address);
    const signature = await wallet.signMessage(message);
    expect((await stack.graphql(SIGN_IN, { message, signature })).body.data!.signInWithEthereum.ok).toBe(
      true,
    );
    const replay = await stack.graphql(SIGN_IN, { message, signature });
    expect(replay.body.data!.signInWithEthereum).toMatchObject({
      ok: false,
      error: { code: 'SIWE_NONCE_REUSED' },
    });

    const phishing = await siweMessage(stack.graphql, wallet.address, { domain: 'evil.example' });
    const refused = await stack.graphql(SIGN_IN, {
      message: phishing,
      signature: await wallet.signMessage(phishing),
    });
    expect(refused.body.data!.signInWithEthereum.error.code).toBe('SIWE_WRONG_DOMAIN');

    const honest = await siweMessage(stack.graphql, wallet.address);
    const impostor = await stack.graphql(SIGN_IN, {
      message: honest,
      signature: await Wallet.createRandom().signMessage(honest),
    });
    expect(impostor.body.data!.signInWithEthereum).toMatchObject({ ok: false, accessToken: null });
    expect(impostor.body.data!.signInWithEthereum.error.code).toBe('SIWE_INVALID_SIGNATURE');
  });
});

describe('sessions', () => {
  it('rotates refresh tokens, and a reused one ends the session for every token of it', async () => {
    const session = await signIn(stack.graphql, devKeys.alan);
    const refresh = (token: string) =>
      stack.graphql(
        'mutation($t: String!) { refreshSession(refreshToken: $t) { ok error { code } accessToken refreshToken } }',
        {
          t: token,
        },
      );
    const first = (await refresh(session.refreshToken)).body.data!.refreshSession;
    expect(first.ok).toBe(true);
    expect(first.refreshToken).not.toBe(session.refreshToken);
    const viewer = await stack.graphql('{ viewer { handle } }', undefined, {
      authorization: `Bearer ${first.accessToken}`,
    });
    expect(viewer.body.data!.viewer.handle).toBe('alan');

    const reused = (await refresh(session.refreshToken)).body.data!.refreshSession;
    expect(reused).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_REUSED' } });
    // The whole family is revoked: the newest refresh token and the access tokens stop working at once.
    expect((await refresh(first.refreshToken)).body.data!.refreshSession.ok).toBe(false);
    const after = await stack.graphql('{ viewer { handle } }', undefined, {
      authorization: `Bearer ${first.accessToken}`,
    });
    expect(after.status).toBe(401);
    expect(after.body.errors![0]!.message).toBe('session revoked');
  });

  it('signing out stops the access token at once, and lists only live sessions to their owner', async () => {
    const session = await signIn(stack.graphql, devKeys.ada);
    const mine = await stack.graphql('{ viewer { sessions { id current } } }', undefined, session.headers);
    expect(mine.body.data!.viewer.sessions).toContainEqual({ id: session.sessionId, current: true });
    const others = await stack.graphql(
      '{ user(handle: "ada") { sessions { id } } }',
      undefined,
      linus.headers,
    );
    expect(others.body.data!.user.sessions).toBeNull();

    const out = await stack.graphql('mutation { signOut { ok } }', undefined, session.headers);
    expect(out.body.data!.signOut.ok).toBe(true);
    const refused = await stack.graphql('{ viewer { handle } }', undefined, session.headers);
    expect(refused.status).toBe(401);
    expect(errorCodes(refused)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('authorization directives: the same operation for anonymous, member and admin callers', () => {
  const operation = `query($id: ID!) {
    user(handle: "linus") { displayName enrollments { id } roles }
    roleChanges(userId: $id) { role action }
  }`;

  it('anonymous: public data, null and UNAUTHORIZED_FIELD_OR_TYPE for the rest', async () => {
    const response = await stack.graphql(operation, { id: linus.userId });
    expect(response.body.data).toEqual({
      user: { displayName: 'Linus Learner', enrollments: null, roles: null },
      roleChanges: null,
    });
    const paths = response.body.errors!.map((error) => [error.path, error.extensions?.code]);
    expect(paths).toEqual(
      expect.arrayContaining([
        [['user', 'enrollments'], 'UNAUTHORIZED_FIELD_OR_TYPE'],
        [['user', 'roles'], 'UNAUTHORIZED_FIELD_OR_TYPE'],
        [['roleChanges'], 'UNAUTHORIZED_FIELD_OR_TYPE'],
      ]),
    );
  });

  it('member (the user himself): his own data, not the admin-only audit trail', async () => {
    const response = await stack.graphql(operation, { id: linus.userId }, linus.headers);
    expect(response.body.data).toEqual({
      user: { displayName: 'Linus Learner', enrollments: [], roles: ['MEMBER'] },
      roleChanges: null,
    });
    expect(response.body.errors!.map((error) => [error.path, error.extensions?.code])).toEqual([
      [['roleChanges'], 'UNAUTHORIZED_FIELD_OR_TYPE'],
    ]);
  });

  it('admin: everything, including the trail of a role granted and revoked', async () => {
    const grant = await stack.graphql(
      'mutation($u: ID!) { grantRole(userId: $u, role: INSTRUCTOR, reason: "teaches now") { ok user { roles } } }',
      { u: linus.userId },
      admin.headers,
    );
    expect(grant.body.data!.grantRole).toEqual({ ok: true, user: { roles: ['MEMBER', 'INSTRUCTOR'] } });
    await stack.graphql(
      'mutation($u: ID!) { revokeRole(userId: $u, role: INSTRUCTOR) { ok } }',
      { u: linus.userId },
      admin.headers,
    );
    const response = await stack.graphql(operation, { id: linus.userId }, admin.headers);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.user.roles).toEqual(['MEMBER']);
    expect(response.body.data!.roleChanges).toEqual([
      { role: 'INSTRUCTOR', action: 'REVOKE' },
      { role: 'INSTRUCTOR', action: 'GRANT' },
    ]);
  });

  it('a member without learning:write cannot create a course; the mutation never reaches learning', async () => {
    const response = await stack.graphql(
      'mutation { createCourse(input: { slug: "nope", title: "x", summary: "x", level: BEGINNER, durationMinutes: 1, instructorId: "00000000-0000-4000-8000-000000000000" }) { ok } }',
      undefined,
      linus.headers,
    );
    expect(response.body.data).toBeNull();
    expect(errorCodes(response)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);
  });
});

describe('API keys', () => {
  it('are shown once, act for their owner within the chosen scopes, and stop when revoked', async () => {
    const created = await stack.graphql(
      'mutation { createApiKey(name: "ci", scopes: ["profile:read"]) { ok key apiKey { id prefix tier scopes } } }',
      undefined,
      linus.headers,
    );
    const { key, apiKey } = created.body.data!.createApiKey;
    expect(apiKey).toMatchObject({ tier: 'FREE', scopes: ['profile:read'] });
    expect(key.startsWith(`sk_${apiKey.prefix}_`)).toBe(true);

    const asKey = await stack.graphql('{ viewer { handle } }', undefined, { 'x-api-key': key });
    expect(asKey.body.data!.viewer.handle).toBe('linus');
    const listed = await stack.graphql('{ viewer { apiKeys { prefix } } }', undefined, linus.headers);
    expect(JSON.stringify(listed.body.data)).not.toContain(key.slice(`sk_${apiKey.prefix}_`.length));

    const wider = await stack.graphql(
      'mutation { createApiKey(name: "admin?", scopes: ["roles:admin"]) { ok error { code field } } }',
      undefined,
      linus.headers,
    );
    expect(wider.body.data!.createApiKey).toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', field: 'input.scopes' },
    });

    const second = await stack.graphql(
      'mutation { createApiKey(name: "short-lived", scopes: ["profile:read"]) { key apiKey { id } } }',
      undefined,
      linus.headers,
    );
    await stack.graphql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { ok } }',
      { id: second.body.data!.createApiKey.apiKey.id },
      linus.headers,
    );
    const revoked = await stack.graphql('{ viewer { handle } }', undefined, {
      'x-api-key': second.body.data!.createApiKey.key,
    });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors![0]!.message).toBe('invalid API key');
  });
});

describe('reject mode', () => {
  let gateway: RunningProcess;
  let graphql: ReturnType<typeof graphqlClient>;

  beforeAll(async () => {
    gateway = startProcess('gateway/src/index.ts', {
      PORT: '0',
      LOG_LEVEL: 'info',
      AUTHZ_MODE: 'reject',
      SUBGRAPH_URL_IDENTITY: `${stack.subgraphUrls.identity}/graphql`,
      SUBGRAPH_URL_LEARNING: `${stack.subgraphUrls.learning}/graphql`,
      REDIS_URL: stack.env.REDIS_URL ?? '',
      REDIS_PREFIX: stack.env.REDIS_PREFIX ?? '',
      DATA_DIR: stack.env.DATA_DIR ?? '',
    });
    const [, url] = await gateway.waitFor(/"url":"(http:\/\/[^"]+)\/graphql"[^\n]*gateway ready/);
    graphql = graphqlClient(`${url}/graphql`);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('refuses the whole operation when any requested field is unauthorized', async () => {
    const response = await graphql('{ user(handle: "linus") { displayName enrollments { id } } }');
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors!.map((error) => [error.path, error.extensions?.code])).toEqual([
      [['user', 'enrollments'], 'UNAUTHORIZED_FIELD_OR_TYPE'],
    ]);
    const allowed = await graphql('{ user(handle: "linus") { displayName } }');
    expect(allowed.body.data).toEqual({ user: { displayName: 'Linus Learner' } });
  });
});
