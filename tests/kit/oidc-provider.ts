import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email?: string;
  name?: string;
  preferred_username?: string;
}

export interface TestOpenIdProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next login at the provider signs in as; `deny` makes the person decline instead. */
  nextLogin: TestAccount | 'deny';
  stop(): Promise<void>;
}

/**
 * A real OpenID Provider (oidc-provider) on 127.0.0.1: discovery, JWKS, authorization with PKCE, the token
 * and userinfo endpoints. Its login and consent screens are answered by the test (`nextLogin`) instead of
 * a person, through oidc-provider's own interaction API.
 */
export async function startTestOpenIdProvider(options: {
  port: number;
  redirectUris: string[];
}): Promise<TestOpenIdProvider> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const clientId = 'symbeon';
  const clientSecret = 'test-client-secret-that-is-long-enough-0123456789';
  const accounts = new Map<string, TestAccount>();
  const state: TestOpenIdProvider = {
    issuer,
    clientId,
    clientSecret,
    nextLogin: { sub: 'nobody' },
    stop: async () => {},
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    findAccount: (_ctx, id) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          ...(account.email ? { email: account.email, email_verified: true } : {}),
          ...(account.name ? { name: account.name } : {}),
          ...(account.preferred_username ? { preferred_username: account.preferred_username } : {}),
        }),
      };
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['test-only-cookie-signing-key'] },
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('test OP error', error));
  const handle = provider.callback();
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void handle(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        const login = state.nextLogin;
        if (login === 'deny') {
          return await provider.interactionFinished(
            req,
            res,
            { error: 'access_denied', error_description: 'The person declined' },
            { mergeWithLastSubmission: false },
          );
        }
        if (details.prompt.name === 'login') {
          accounts.set(login.sub, login);
          return await provider.interactionFinished(
            req,
            res,
            { login: { accountId: login.sub } },
            { mergeWithLastSubmission: false },
          );
        }
        const grant = new provider.Grant({
          accountId: details.session!.accountId,
          clientId: String(details.params.client_id),
        });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { consent: { grantId } },
          { mergeWithLastSubmission: true },
        );
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/**
 * The part of a browser an OIDC flow needs: follows redirects across origins and keeps cookies per host
 * (ports share cookies, as in browsers), until it reaches `stopAt`'s origin + path.
 */
export class TestBrowser {
  private readonly cookies = new Map<string, Map<string, string>>();

  private jar(host: string) {
    let jar = this.cookies.get(host);
    if (!jar) this.cookies.set(host, (jar = new Map()));
    return jar;
  }

  /** One request, no redirect followed: status, Location, and the body. */
  async get(url: string): Promise<{ status: number; location?: string; body: string }> {
    const target = new URL(url);
    const jar = this.jar(target.hostname);
    const response = await fetch(target, {
      redirect: 'manual',
      headers: jar.size ? { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get('location');
    return {
      status: response.status,
      ...(location ? { location: new URL(location, target).toString() } : {}),
      body: await response.text(),
    };
  }

  /** Follows redirects from `url` until one points at `stopAt` (origin + path); returns that URL. */
  async follow(url: string, stopAt: string): Promise<URL> {
    const stop = new URL(stopAt);
    let next = url;
    for (let hop = 0; hop < 20; hop += 1) {
      const current = new URL(next);
      if (current.origin === stop.origin && current.pathname === stop.pathname) return current;
      const response = await this.get(next);
      if (!response.location) {
        throw new Error(
          `${next} answered ${response.status} without a redirect: ${response.body.slice(0, 300)}`,
        );
      }
      next = response.location;
    }
    throw new Error(`Too many redirects from ${url}`);
  }
}
