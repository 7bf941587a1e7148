import type { Configuration } from 'openid-client';
import type { Logger } from '@symbeon/kernel';
import type { OidcProviderConfig } from '../../env.js';

/** What a provider vouched for, from its validated ID token (and its userinfo endpoint when it has one). */
export interface OidcIdentity {
  subject: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  preferredUsername?: string;
}

export interface OidcAuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

export interface OidcChecks {
  pkceCodeVerifier: string;
  expectedState: string;
  expectedNonce: string;
}

export interface OidcClient {
  providers: readonly OidcProviderConfig[];
  provider(id: string): OidcProviderConfig | undefined;
  authorizationUrl(providerId: string, request: OidcAuthorizationRequest): Promise<URL>;
  /** Trades the callback's code (PKCE, state and nonce checked; ID token verified) for the identity. */
  exchange(providerId: string, callbackUrl: URL, checks: OidcChecks): Promise<OidcIdentity>;
}

export class OidcProviderUnavailableError extends Error {}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** A failed discovery is retried at most this often, so a provider being down costs it no request flood. */
const DISCOVERY_RETRY_MS = 5_000;

const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

/**
 * openid-client over the configured providers: discovery on first use (so a provider being down never stops
 * identity from starting), the authorization URL with PKCE S256 + state + nonce, and the code exchange.
 * Plain http issuers are accepted only on loopback or outside production.
 */
export function createOidcClient(options: {
  providers: readonly OidcProviderConfig[];
  production: boolean;
  logger: Logger;
}): OidcClient {
  for (const provider of options.providers) {
    const issuer = new URL(provider.issuer);
    if (issuer.protocol === 'http:' && options.production && !LOOPBACK.has(issuer.hostname)) {
      throw new Error(`OIDC provider ${provider.id}: the issuer must use https in production`);
    }
  }
  const byId = new Map(options.providers.map((provider) => [provider.id, provider]));
  const configurations = new Map<string, Promise<Configuration>>();
  const failedAt = new Map<string, number>();

  async function configuration(providerId: string): Promise<Configuration> {
    const provider = byId.get(providerId);
    if (!provider) throw new Error(`Unknown OIDC provider ${providerId}`);
    const known = configurations.get(providerId);
    if (known) return known;
    const lastFailure = failedAt.get(providerId);
    if (lastFailure !== undefined && Date.now() - lastFailure < DISCOVERY_RETRY_MS) {
      throw new OidcProviderUnavailableError(`${provider.name} is unavailable`);
    }
    const discovered = (async () => {
      const client = await import('openid-client');
      const issuer = new URL(provider.issuer);
      return client.discovery(
        issuer,
        provider.clientId,
        undefined,
        provider.clientSecret ? client.ClientSecretBasic(provider.clientSecret) : client.None(),
        {
          ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
          timeout: 10,
        },
      );
    })();
    configurations.set(providerId, discovered);
    try {
      return await discovered;
    } catch (error) {
      configurations.delete(providerId);
      failedAt.set(providerId, Date.now());
      options.logger.warn({ provider: providerId, err: error }, 'OIDC discovery failed');
      throw new OidcProviderUnavailableError(`${provider.name} is unavailable`);
    }
  }

  return {
    providers: options.providers,
    provider: (id) => byId.get(id),

    async authorizationUrl(providerId, request) {
      const provider = byId.get(providerId)!;
      const config = await configuration(providerId);
      const client = await import('openid-client');
      return client.buildAuthorizationUrl(config, {
        redirect_uri: request.redirectUri,
        scope: ['openid', ...provider.scopes.filter((scope) => scope !== 'openid')].join(' '),
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
      });
    },

    async exchange(providerId, callbackUrl, checks) {
      const config = await configuration(providerId);
      const client = await import('openid-client');
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.pkceCodeVerifier,
        expectedState: checks.expectedState,
        expectedNonce: checks.expectedNonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('The provider returned no ID token');
      let profile: Record<string, unknown> = { ...claims };
      if (config.serverMetadata().userinfo_endpoint) {
        try {
          profile = { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
        } catch (error) {
          // The ID token is what signs in; the profile only names the new account.
          options.logger.warn({ provider: providerId, err: error }, 'OIDC userinfo failed');
        }
      }
      return {
        subject: claims.sub,
        ...(text(profile.email) ? { email: text(profile.email)! } : {}),
        ...(typeof profile.email_verified === 'boolean' ? { emailVerified: profile.email_verified } : {}),
        ...(text(profile.name) ? { name: text(profile.name)! } : {}),
        ...(text(profile.preferred_username) ? { preferredUsername: text(profile.preferred_username)! } : {}),
      };
    },
  };
}
