import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DomainError, ErrorCode, type Cache, type Logger, type SecretBox } from '@symbeon/kernel';
import { HANDLE } from '../users/users-manager.js';
import type { UsersManager } from '../users/users-manager.js';
import type { UserRow } from '../users/users-storage.js';
import { OidcProviderUnavailableError, type OidcClient, type OidcIdentity } from './oidc-client.js';
import type { OidcStorage } from './oidc-storage.js';

export const OidcErrorCode = {
  /** Unknown provider id. */
  OIDC_UNKNOWN_PROVIDER: 'OIDC_UNKNOWN_PROVIDER',
  /** returnTo is not an allowed origin. */
  OIDC_RETURN_TO_NOT_ALLOWED: 'OIDC_RETURN_TO_NOT_ALLOWED',
  /** The provider cannot be reached (discovery failed). */
  OIDC_PROVIDER_UNAVAILABLE: 'OIDC_PROVIDER_UNAVAILABLE',
  /** The callback's state is unknown, expired, used, or was started in another browser. */
  OIDC_STATE_INVALID: 'OIDC_STATE_INVALID',
  /** The person declined at the provider, or the provider reported an error. */
  OIDC_DENIED: 'OIDC_DENIED',
  /** The code exchange or the ID token's checks failed. */
  OIDC_EXCHANGE_FAILED: 'OIDC_EXCHANGE_FAILED',
  /** The provider account belongs to another user (linking). */
  OIDC_ACCOUNT_LINKED_ELSEWHERE: 'OIDC_ACCOUNT_LINKED_ELSEWHERE',
  /** The one-time sign-in code is unknown, expired or used. */
  OIDC_CODE_INVALID: 'OIDC_CODE_INVALID',
  /** The link ticket is unknown, expired or used. */
  OIDC_LINK_INVALID: 'OIDC_LINK_INVALID',
} as const;

/** How long a started sign-in waits for the provider's callback. */
export const FLOW_TTL_MS = 10 * 60_000;
/** How long the browser has to trade the one-time code for tokens. */
export const CODE_TTL_MS = 2 * 60_000;
/** How long a link URL stays usable. */
export const LINK_TTL_MS = 5 * 60_000;

const random = (bytes = 32) => randomBytes(bytes).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const flowKey = (state: string) => `oidc:flow:${digest(state)}`;
const codeKey = (code: string) => `oidc:code:${digest(code)}`;
const linkKey = (ticket: string) => `oidc:link:${digest(ticket)}`;

const flowValue = z.object({
  provider: z.string(),
  verifier: z.string(),
  nonce: z.string(),
  returnTo: z.string(),
  binding: z.string(),
  linkUserId: z.uuid().optional(),
});
const codeValue = z.object({ userId: z.uuid(), provider: z.string() });
const linkValue = z.object({ userId: z.uuid(), provider: z.string(), returnTo: z.string() });

/** Where the browser goes next, and the cookie value binding the flow to it (start only). */
export interface Redirect {
  location: string;
  binding?: string;
}

/** A failure before any allowed returnTo is known: answered in place, never redirected. */
export class OidcFlowError extends DomainError {}

export interface OidcManagerDeps {
  client: OidcClient;
  storage: OidcStorage;
  users: UsersManager;
  cache: Cache;
  box: SecretBox;
  logger: Logger;
  config: { redirectBase: string; returnOrigins: readonly string[] };
}

/**
 * OpenID Connect sign-in (authorization code + PKCE, state, nonce) through identity's HTTP routes:
 * start → provider → callback → the browser returns to the app with a one-time code in the URL fragment
 * (never tokens in a URL), which `completeOidcSignIn` trades for a session. The flow is bound to the
 * browser that started it by an HttpOnly cookie. Accounts are linked by the provider's `sub`, never by
 * email (an email match would let whoever controls a provider take over an account).
 */
export function createOidcManager({ client, storage, users, cache, box, logger, config }: OidcManagerDeps) {
  const returnOrigins = new Set(config.returnOrigins.map((origin) => new URL(origin).origin));
  const base = config.redirectBase.replace(/\/+$/, '');
  const defaultReturnTo = `${base}/auth/oidc/complete`;
  const callbackUri = (providerId: string) => `${base}/auth/oidc/${providerId}/callback`;
  const emailAad = (providerId: string, subject: string) => `oidc-email:${providerId}:${subject}`;

  function checkReturnTo(returnTo: string | undefined): string {
    if (returnTo === undefined || returnTo === '') return defaultReturnTo;
    let url: URL;
    try {
      url = new URL(returnTo);
    } catch {
      throw new OidcFlowError(
        OidcErrorCode.OIDC_RETURN_TO_NOT_ALLOWED,
        'returnTo must be an absolute URL',
        'returnTo',
      );
    }
    if (!returnOrigins.has(url.origin) && url.origin !== new URL(base).origin) {
      throw new OidcFlowError(
        OidcErrorCode.OIDC_RETURN_TO_NOT_ALLOWED,
        `returnTo's origin ${url.origin} is not allowed (OIDC_RETURN_ORIGINS)`,
        'returnTo',
      );
    }
    url.hash = '';
    return url.toString();
  }

  function provider(providerId: string) {
    const found = client.provider(providerId);
    if (!found) {
      throw new OidcFlowError(
        OidcErrorCode.OIDC_UNKNOWN_PROVIDER,
        `No sign-in provider "${providerId}"`,
        'provider',
      );
    }
    return found;
  }

  const withFragment = (returnTo: string, values: Record<string, string>) =>
    `${returnTo}#${new URLSearchParams(values).toString()}`;

  async function handleFor(identity: OidcIdentity): Promise<string> {
    const candidates = [identity.preferredUsername, identity.email?.split('@')[0], identity.name]
      .filter((value): value is string => Boolean(value))
      .map((value) =>
        value
          .toLowerCase()
          .normalize('NFKD')
          .replace(/[^a-z0-9_-]+/g, '-')
          .replace(/^[-_]+|[-_]+$/g, '')
          .slice(0, 24),
      )
      .filter((value) => HANDLE.test(value));
    const stem =
      candidates[0] ??
      `member-${random(6)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')}`.slice(0, 16);
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const candidate = attempt === 0 ? stem : `${stem}-${attempt + 1}`;
      if (HANDLE.test(candidate) && !(await users.isHandleTaken(candidate))) return candidate;
    }
    return `${stem.slice(0, 12)}-${randomBytes(6).toString('hex')}`;
  }

  async function userFor(providerId: string, identity: OidcIdentity): Promise<UserRow> {
    const emailEncrypted = identity.email
      ? box.encrypt(identity.email, emailAad(providerId, identity.subject))
      : null;
    const existing = await storage.find(providerId, identity.subject);
    if (existing) {
      await storage.touch(existing.id, emailEncrypted);
      const user = await users.findById(existing.userId);
      if (!user) throw new Error(`OIDC account ${existing.id} points at a missing user`);
      return user;
    }
    const displayName = (identity.name ?? identity.preferredUsername ?? 'New member').slice(0, 80);
    try {
      const user = await users.createUser(
        { handle: await handleFor(identity), displayName },
        async (tx, row) => {
          const account = await storage.link(tx, {
            userId: row.id,
            provider: providerId,
            subject: identity.subject,
            emailEncrypted,
          });
          // The same account signed in concurrently and won: roll this user back.
          if (account.userId !== row.id) throw new DomainError(ErrorCode.CONFLICT, 'Signed in concurrently');
        },
      );
      return user;
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.CONFLICT) {
        const raced = await storage.find(providerId, identity.subject);
        const user = raced && (await users.findById(raced.userId));
        if (user) return user;
      }
      throw error;
    }
  }

  return {
    providers: () =>
      client.providers.map(({ id, name }) => ({ id, name, startUrl: `${base}/auth/oidc/${id}/start` })),

    /**
     * Starts a sign-in (or, with a link ticket, the linking of a provider account to the ticket's user).
     * Throws OidcFlowError when nothing can be redirected to.
     */
    async start(providerId: string, options: { returnTo?: string; linkTicket?: string }): Promise<Redirect> {
      provider(providerId);
      let returnTo: string;
      let linkUserId: string | undefined;
      if (options.linkTicket) {
        const parsed = linkValue.safeParse(
          JSON.parse((await cache.take(linkKey(options.linkTicket))) ?? 'null'),
        );
        if (!parsed.success || parsed.data.provider !== providerId) {
          throw new OidcFlowError(
            OidcErrorCode.OIDC_LINK_INVALID,
            'This link URL is unknown, expired or used',
            'link',
          );
        }
        returnTo = parsed.data.returnTo;
        linkUserId = parsed.data.userId;
      } else {
        returnTo = checkReturnTo(options.returnTo);
      }
      const state = random();
      const nonce = random();
      const verifier = random(48);
      const binding = random();
      const codeChallenge = createHash('sha256').update(verifier).digest('base64url');
      let location: URL;
      try {
        location = await client.authorizationUrl(providerId, {
          redirectUri: callbackUri(providerId),
          state,
          nonce,
          codeChallenge,
        });
      } catch (error) {
        if (!(error instanceof OidcProviderUnavailableError)) throw error;
        return {
          location: withFragment(returnTo, {
            oidc_error: OidcErrorCode.OIDC_PROVIDER_UNAVAILABLE,
            provider: providerId,
          }),
        };
      }
      const flow: z.infer<typeof flowValue> = {
        provider: providerId,
        verifier,
        nonce,
        returnTo,
        binding: digest(binding),
        ...(linkUserId ? { linkUserId } : {}),
      };
      await cache.set(flowKey(state), JSON.stringify(flow), { ttlMs: FLOW_TTL_MS });
      return { location: location.toString(), binding };
    },

    /**
     * The provider's redirect back. Single use: the flow is consumed whatever the outcome. Success and failure
     * both return the browser to the app (fragment `oidc_code`, `oidc_linked` or `oidc_error`).
     */
    async callback(providerId: string, callbackUrl: URL, binding: string | undefined): Promise<Redirect> {
      provider(providerId);
      const state = callbackUrl.searchParams.get('state');
      const stored = state ? await cache.take(flowKey(state)) : undefined;
      const parsed = flowValue.safeParse(stored ? JSON.parse(stored) : null);
      if (!parsed.success || parsed.data.provider !== providerId) {
        throw new OidcFlowError(
          OidcErrorCode.OIDC_STATE_INVALID,
          'This sign-in is unknown, expired or already used: start again',
        );
      }
      const flow = parsed.data;
      const failWith = (code: string) => ({
        location: withFragment(flow.returnTo, { oidc_error: code, provider: providerId }),
      });
      const presented = Buffer.from(digest(binding ?? ''));
      const expected = Buffer.from(flow.binding);
      if (!binding || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        // Started in another browser: someone may be trying to sign this browser into their account.
        logger.warn({ provider: providerId }, 'OIDC callback without the browser binding of its flow');
        return failWith(OidcErrorCode.OIDC_STATE_INVALID);
      }
      if (callbackUrl.searchParams.has('error')) return failWith(OidcErrorCode.OIDC_DENIED);
      let identity: OidcIdentity;
      try {
        // The redirect_uri sent with the code must be the registered one, whatever host this request reached.
        const registered = new URL(callbackUri(providerId));
        registered.search = callbackUrl.search;
        identity = await client.exchange(providerId, registered, {
          pkceCodeVerifier: flow.verifier,
          expectedState: state!,
          expectedNonce: flow.nonce,
        });
      } catch (error) {
        if (error instanceof OidcProviderUnavailableError)
          return failWith(OidcErrorCode.OIDC_PROVIDER_UNAVAILABLE);
        logger.warn({ provider: providerId, err: error }, 'OIDC code exchange failed');
        return failWith(OidcErrorCode.OIDC_EXCHANGE_FAILED);
      }
      if (flow.linkUserId) {
        const account = await storage.link(undefined, {
          userId: flow.linkUserId,
          provider: providerId,
          subject: identity.subject,
          emailEncrypted: identity.email
            ? box.encrypt(identity.email, emailAad(providerId, identity.subject))
            : null,
        });
        if (account.userId !== flow.linkUserId) return failWith(OidcErrorCode.OIDC_ACCOUNT_LINKED_ELSEWHERE);
        return { location: withFragment(flow.returnTo, { oidc_linked: providerId }) };
      }
      const user = await userFor(providerId, identity);
      const code = random();
      await cache.set(codeKey(code), JSON.stringify({ userId: user.id, provider: providerId }), {
        ttlMs: CODE_TTL_MS,
      });
      return { location: withFragment(flow.returnTo, { oidc_code: code, provider: providerId }) };
    },

    /** Trades the one-time code for the user it signs in, once. */
    async complete(code: string): Promise<{ userId: string; method: string }> {
      const stored = code.length > 0 && code.length <= 200 ? await cache.take(codeKey(code)) : undefined;
      const parsed = codeValue.safeParse(stored ? JSON.parse(stored) : null);
      if (!parsed.success) {
        throw new DomainError(
          OidcErrorCode.OIDC_CODE_INVALID,
          'This sign-in code is unknown, expired or used',
          'code',
        );
      }
      return { userId: parsed.data.userId, method: `OIDC:${parsed.data.provider}` };
    },

    /** A URL that, opened in the signed-in person's browser, links a provider account to their user. */
    async linkUrl(userId: string, providerId: string, returnTo: string | undefined): Promise<string> {
      provider(providerId);
      const checked = checkReturnTo(returnTo);
      const ticket = random();
      await cache.set(linkKey(ticket), JSON.stringify({ userId, provider: providerId, returnTo: checked }), {
        ttlMs: LINK_TTL_MS,
      });
      return `${base}/auth/oidc/${providerId}/start?link=${ticket}`;
    },
  };
}

export type OidcManager = ReturnType<typeof createOidcManager>;
