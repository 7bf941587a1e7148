import { z } from 'zod';

/**
 * Who is calling, as the gateway established it. The gateway computes it from the caller's credentials
 * and hands it to subgraphs inside the internal token; a subgraph never builds one from request headers.
 * It lives in the kernel because both sides read it and the kernel is the only shared code.
 */
export const tiers = ['FREE', 'PRO', 'ENTERPRISE'] as const;
export type Tier = (typeof tiers)[number];

export interface AnonymousPrincipal {
  kind: 'anonymous';
}

export interface UserPrincipal {
  kind: 'user';
  userId: string;
  /** The session the access token belongs to: revoking it ends this principal at once. */
  sessionId: string;
  roles: string[];
  scopes: string[];
  tier: Tier;
}

export interface ApiKeyPrincipal {
  kind: 'api-key';
  keyId: string;
  /** The key's owner: a key acts on behalf of a user, with at most that user's scopes. */
  userId: string;
  roles: string[];
  scopes: string[];
  tier: Tier;
}

export type Principal = AnonymousPrincipal | UserPrincipal | ApiKeyPrincipal;

export const ANONYMOUS: AnonymousPrincipal = Object.freeze({ kind: 'anonymous' as const });

const id = z.string().min(1).max(200);
const names = z.array(z.string().min(1).max(200)).max(500);

/**
 * Validates a principal read from a token. `strictObject` refuses unknown fields, so what a subgraph
 * receives is exactly the shape above and nothing a future gateway version might smuggle in.
 */
export const principalSchema: z.ZodType<Principal> = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('anonymous') }),
  z.strictObject({
    kind: z.literal('user'),
    userId: id,
    sessionId: id,
    roles: names,
    scopes: names,
    tier: z.enum(tiers),
  }),
  z.strictObject({
    kind: z.literal('api-key'),
    keyId: id,
    userId: id,
    roles: names,
    scopes: names,
    tier: z.enum(tiers),
  }),
]);

/**
 * A stable text form of a principal, with its fields in a fixed order: equal principals give equal keys
 * whatever order their fields were built in (the internal token cache is keyed by it).
 */
export function principalKey(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return JSON.stringify([
        'user',
        principal.userId,
        principal.sessionId,
        principal.roles,
        principal.scopes,
        principal.tier,
      ]);
    case 'api-key':
      return JSON.stringify([
        'api-key',
        principal.keyId,
        principal.userId,
        principal.roles,
        principal.scopes,
        principal.tier,
      ]);
  }
}
