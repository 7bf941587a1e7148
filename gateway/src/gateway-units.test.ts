import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseGatewayEnv } from './env.js';
import { createErrorFormatter } from './errors.js';
import { subgraphsOf } from './gateway.js';

describe('error masking', () => {
  const format = createErrorFormatter(pino({ level: 'silent' }), () => 'req-1');

  it('passes coded errors through without internals', () => {
    const formatted = format(
      {
        message: 'first must be between 0 and 100',
        path: ['courses'],
        extensions: { code: 'BAD_USER_INPUT', stacktrace: ['x'] },
      },
      new Error('x'),
    );
    expect(formatted).toEqual({
      message: 'first must be between 0 and 100',
      path: ['courses'],
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('masks uncoded and internal errors, keeping the path and the request id', () => {
    for (const extensions of [
      undefined,
      { code: 'INTERNAL_SERVER_ERROR' },
      { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'x' },
    ]) {
      const formatted = format(
        {
          message: 'relation "secret_table" does not exist',
          path: ['a'],
          ...(extensions ? { extensions } : {}),
        },
        new Error(),
      );
      expect(formatted).toEqual({
        message: 'Internal server error',
        path: ['a'],
        extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-1' },
      });
    }
  });
});

describe('gateway environment', () => {
  const secret = 'gateway-units-internal-secret-0123456789abcdef';

  it('reads subgraph URL overrides and profile-dependent defaults', () => {
    const env = parseGatewayEnv({
      SUBGRAPH_URL_LEARNING: 'http://learning:8007/graphql',
      NODE_ENV: 'production',
      INTERNAL_AUTH_SECRET: secret,
    });
    expect(env.subgraphUrls).toEqual({ learning: 'http://learning:8007/graphql' });
    expect(env.INTROSPECTION).toBe(false);
    expect(env.SANDBOX).toBe(false);
    expect(parseGatewayEnv({}).INTROSPECTION).toBe(true);
    expect(
      parseGatewayEnv({ NODE_ENV: 'production', INTROSPECTION: 'true', INTERNAL_AUTH_SECRET: secret })
        .INTROSPECTION,
    ).toBe(true);
  });

  it('has the authentication defaults identity issues tokens with', () => {
    const env = parseGatewayEnv({});
    expect(env.AUTH_ISSUER).toBe('http://localhost:8000');
    expect(env.AUTH_AUDIENCE).toBe('symbeon-api');
    expect(env.AUTH_JWKS_URL).toBeUndefined();
  });

  it('requires INTERNAL_AUTH_SECRET in production', () => {
    expect(() => parseGatewayEnv({ NODE_ENV: 'production' })).toThrow(
      /INTERNAL_AUTH_SECRET: required when NODE_ENV=production/,
    );
  });

  it('refuses a malformed override', () => {
    expect(() => parseGatewayEnv({ SUBGRAPH_URL_IDENTITY: 'not a url' })).toThrow(/SUBGRAPH_URL_IDENTITY/);
  });

  it("lists the supergraph's subgraphs with overrides applied", () => {
    const sdl =
      'IDENTITY @join__graph(name: "identity", url: "http://127.0.0.1:8003/graphql")\n  LEARNING @join__graph(name: "learning", url: "http://127.0.0.1:8007/graphql")';
    expect(subgraphsOf(sdl, { learning: 'http://elsewhere/graphql' })).toEqual([
      { name: 'identity', url: 'http://127.0.0.1:8003/graphql' },
      { name: 'learning', url: 'http://elsewhere/graphql' },
    ]);
  });
});
