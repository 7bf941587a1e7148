import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeys, freePort, signIn, startTestStack, type TestStack } from '../kit/index.js';
import { startTestOpenIdProvider, TestBrowser, type TestOpenIdProvider } from '../kit/oidc-provider.js';

// OpenID Connect sign-in as a browser meets it: the gateway's /auth/oidc routes, a real OpenID Provider
// (oidc-provider) on its own port, and the one-time code traded through GraphQL.
let stack: TestStack;
let op: TestOpenIdProvider;
let gateway: string;
let returnTo: string;

beforeAll(async () => {
  const [gatewayPort, opPort, downPort] = await Promise.all([freePort(), freePort(), freePort()]);
  gateway = `http://127.0.0.1:${gatewayPort}`;
  returnTo = `${gateway}/auth/oidc/complete`;
  op = await startTestOpenIdProvider({
    port: opPort,
    redirectUris: [`${gateway}/auth/oidc/test/callback`],
  });
  stack = await startTestStack({
    PORT: String(gatewayPort),
    OIDC_REDIRECT_BASE: gateway,
    OIDC_RETURN_ORIGINS: 'http://app.localhost:5173',
    OIDC_PROVIDERS: JSON.stringify([
      {
        id: 'test',
        name: 'Test SSO',
        issuer: op.issuer,
        clientId: op.clientId,
        clientSecret: op.clientSecret,
      },
      // Nobody listens there: a provider that is down.
      {
        id: 'down',
        name: 'Down SSO',
        issuer: `http://127.0.0.1:${downPort}`,
        clientId: 'x',
        clientSecret: 'y',
      },
    ]),
  });
});

afterAll(async () => {
  await stack?.stop();
  await op?.stop();
});

const fragment = (url: URL) => Object.fromEntries(new URLSearchParams(url.hash.slice(1)));

/** A browser signing in at the provider as `account`; returns where it lands and its fragment. */
async function signInAt(
  account: TestOpenIdProvider['nextLogin'],
  options: { browser?: TestBrowser; start?: string; target?: string } = {},
) {
  op.nextLogin = account;
  const browser = options.browser ?? new TestBrowser();
  const target = options.target ?? returnTo;
  const landed = await browser.follow(
    options.start ?? `${gateway}/auth/oidc/test/start?returnTo=${encodeURIComponent(target)}`,
    target,
  );
  return fragment(landed);
}

const complete = (code: string) =>
  stack.graphql(
    `mutation($code: String!) {
      completeOidcSignIn(code: $code) {
        ok error { code message } accessToken refreshToken challenge
        user { id handle displayName } session { method }
      }
    }`,
    { code },
  );

interface Completed {
  ok: boolean;
  error: { code: string } | null;
  accessToken: string | null;
  challenge: string | null;
  user: { id: string; handle: string; displayName: string } | null;
  session: { method: string } | null;
}

describe('OIDC sign-in through the gateway against a real OpenID Provider', () => {
  it('lists the configured providers over GraphQL and HTTP', async () => {
    const listed = await stack.graphql('{ oidcProviders { id name startUrl } }');
    expect(listed.body.data!.oidcProviders).toEqual([
      { id: 'test', name: 'Test SSO', startUrl: `${gateway}/auth/oidc/test/start` },
      { id: 'down', name: 'Down SSO', startUrl: `${gateway}/auth/oidc/down/start` },
    ]);
    const http = await fetch(`${gateway}/auth/oidc/providers`);
    expect(http.status).toBe(200);
    expect(((await http.json()) as { providers: unknown[] }).providers).toHaveLength(2);
  });

  it('creates the user on first sign-in, finds the same user afterwards, and opens an OIDC session', async () => {
    const alice = {
      sub: 'alice-123',
      email: 'alice@example.com',
      name: 'Alice Liddell',
      preferred_username: 'alice',
    };
    const first = await signInAt(alice);
    expect(first).toMatchObject({ oidc_code: expect.any(String), provider: 'test' });
    const signedIn = (await complete(first.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(signedIn).toMatchObject({
      ok: true,
      error: null,
      accessToken: expect.any(String),
      user: { handle: 'alice', displayName: 'Alice Liddell' },
      session: { method: 'OIDC:test' },
    });
    const viewer = await stack.graphql(
      '{ viewer { id oidcAccounts { provider lastSignInAt } } }',
      undefined,
      {
        authorization: `Bearer ${signedIn.accessToken}`,
      },
    );
    expect(viewer.body.data!.viewer).toMatchObject({
      id: signedIn.user!.id,
      oidcAccounts: [{ provider: 'test', lastSignInAt: expect.any(String) }],
    });

    // The code was single-use.
    const replayed = (await complete(first.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(replayed).toMatchObject({ ok: false, error: { code: 'OIDC_CODE_INVALID' }, accessToken: null });

    // Same `sub` again (even with another email): the same user, no new one.
    const again = await signInAt({ ...alice, email: 'alice@elsewhere.example' });
    const second = (await complete(again.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(second.user!.id).toBe(signedIn.user!.id);

    // Another `sub` with the same preferred username: another user, with a free handle.
    const other = await signInAt({ sub: 'alice-999', preferred_username: 'alice', name: 'Another Alice' });
    const otherUser = (await complete(other.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(otherUser.user!.id).not.toBe(signedIn.user!.id);
    expect(otherUser.user!.handle).toBe('alice-2');
  });

  it('returns the browser to an allowed app origin, and refuses any other returnTo', async () => {
    const app = 'http://app.localhost:5173/signed-in';
    const landed = await signInAt({ sub: 'bob-1', name: 'Bob' }, { target: app });
    expect(landed.oidc_code).toEqual(expect.any(String));

    const evil = await fetch(
      `${gateway}/auth/oidc/test/start?returnTo=${encodeURIComponent('https://evil.example/steal')}`,
      { redirect: 'manual' },
    );
    expect(evil.status).toBe(400);
    expect(await evil.json()).toMatchObject({ error: { code: 'OIDC_RETURN_TO_NOT_ALLOWED' } });
    const unknown = await fetch(`${gateway}/auth/oidc/nope/start`, { redirect: 'manual' });
    expect(unknown.status).toBe(404);
  });

  it('sends PKCE (S256), state and nonce to the provider, and binds the flow to the browser', async () => {
    const browser = new TestBrowser();
    const started = await browser.get(`${gateway}/auth/oidc/test/start`);
    expect(started.status).toBe(302);
    const authorize = new URL(started.location!);
    expect(authorize.origin).toBe(op.issuer);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: op.clientId,
      response_type: 'code',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      state: expect.stringMatching(/^[\w-]{43}$/),
      nonce: expect.stringMatching(/^[\w-]{43}$/),
      redirect_uri: `${gateway}/auth/oidc/test/callback`,
    });
    expect(authorize.searchParams.get('scope')!.split(' ')).toEqual(['openid', 'profile', 'email']);

    // The provider answers, but the callback is opened in another browser (login CSRF): refused.
    op.nextLogin = { sub: 'mallory', name: 'Mallory' };
    const atCallback = await browser.follow(started.location!, `${gateway}/auth/oidc/test/callback`);
    const elsewhere = await new TestBrowser().follow(atCallback.toString(), returnTo);
    expect(fragment(elsewhere)).toMatchObject({ oidc_error: 'OIDC_STATE_INVALID' });
    expect(fragment(elsewhere).oidc_code).toBeUndefined();
    // The state was consumed: replaying the callback is refused outright.
    const replay = await browser.get(atCallback.toString());
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ error: { code: 'OIDC_STATE_INVALID' } });
  });

  it('reports a person declining at the provider, and a provider that is down', async () => {
    expect(await signInAt('deny')).toMatchObject({ oidc_error: 'OIDC_DENIED', provider: 'test' });
    const down = await new TestBrowser().follow(`${gateway}/auth/oidc/down/start`, returnTo);
    expect(fragment(down)).toMatchObject({ oidc_error: 'OIDC_PROVIDER_UNAVAILABLE', provider: 'down' });
  });

  it('links a provider account to a signed-in user, once', async () => {
    const ada = await signIn(stack.graphql, devKeys.ada);
    const link = async () => {
      const response = await stack.graphql(
        'mutation { linkOidcAccount(provider: "test") { ok error { code } url } }',
        undefined,
        ada.headers,
      );
      return response.body.data!.linkOidcAccount as { ok: boolean; url: string };
    };
    const { url } = await link();
    expect(await signInAt({ sub: 'ada-corp', name: 'Ada at Corp' }, { start: url })).toMatchObject({
      oidc_linked: 'test',
    });
    // Signing in with that provider account is signing in as Ada.
    const landed = await signInAt({ sub: 'ada-corp', name: 'Ada at Corp' });
    const signedIn = (await complete(landed.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(signedIn.user!.id).toBe(ada.userId);
    // A link URL works once; an account already linked to someone else is refused.
    const reused = await new TestBrowser().get(url);
    expect(reused.status).toBe(400);
    expect(JSON.parse(reused.body)).toMatchObject({ error: { code: 'OIDC_LINK_INVALID' } });
    const second = await link();
    expect(await signInAt({ sub: 'alice-123' }, { start: second.url })).toMatchObject({
      oidc_error: 'OIDC_ACCOUNT_LINKED_ELSEWHERE',
    });
    const anonymous = await stack.graphql('mutation { linkOidcAccount(provider: "test") { ok url } }');
    expect(anonymous.body.data?.linkOidcAccount ?? null).toBeNull();
  });

  it('asks for the TOTP code after the provider when the user enabled it', async () => {
    const first = await signInAt({ sub: 'carol-7', name: 'Carol' });
    const carol = (await complete(first.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    const headers = { authorization: `Bearer ${carol.accessToken}` };
    const enrolled = await stack.graphql('mutation { enrollTotp { otpauthUri } }', undefined, headers);
    const secret = new URL(
      (enrolled.body.data!.enrollTotp as { otpauthUri: string }).otpauthUri,
    ).searchParams.get('secret')!;
    const now = Math.floor(Date.now() / 1000);
    const confirmed = await stack.graphql(
      'mutation($code: String!) { confirmTotp(code: $code) { ok } }',
      { code: await generate({ secret, epoch: now - 30 }) },
      headers,
    );
    expect(confirmed.body.data!.confirmTotp).toEqual({ ok: true });

    const again = await signInAt({ sub: 'carol-7', name: 'Carol' });
    const stepUp = (await complete(again.oidc_code!)).body.data!.completeOidcSignIn as Completed;
    expect(stepUp).toMatchObject({
      ok: false,
      error: { code: 'SECOND_FACTOR_REQUIRED' },
      accessToken: null,
      challenge: expect.any(String),
    });
    const finished = await stack.graphql(
      `mutation($challenge: String!, $code: String!) {
        completeSignIn(challenge: $challenge, code: $code) { ok accessToken session { method } user { id } }
      }`,
      { challenge: stepUp.challenge, code: await generate({ secret, epoch: now }) },
    );
    expect(finished.body.data!.completeSignIn).toMatchObject({
      ok: true,
      accessToken: expect.any(String),
      session: { method: 'OIDC:test' },
      user: { id: carol.user!.id },
    });
  });
});
