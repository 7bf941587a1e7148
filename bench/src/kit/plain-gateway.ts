import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { INTERNAL_TOKEN_HEADER } from '@symbeon/kernel';

const JOIN_GRAPH = /@join__graph\(name:\s*"([^"]+)",\s*url:\s*"[^"]*"\)/g;

/** The supergraph with each `@join__graph(name, url)` routing URL replaced by `urls[name]`. */
export function withRoutingUrls(supergraphSdl: string, urls: Record<string, string>): string {
  const missing: string[] = [];
  const sdl = supergraphSdl.replace(JOIN_GRAPH, (whole, name: string) => {
    const url = urls[name];
    if (!url) {
      missing.push(name);
      return whole;
    }
    return `@join__graph(name: "${name}", url: "${url}")`;
  });
  if (missing.length > 0) throw new Error(`no running URL for subgraph(s): ${missing.join(', ')}`);
  if (sdl === supergraphSdl) throw new Error('the supergraph has no @join__graph routing URLs to replace');
  return sdl;
}

const SECURITY_LINKS =
  /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes|policy)\/v[\d.]+"), for: SECURITY\)/g;

/**
 * The supergraph links the authenticated/requiresScopes/policy specs `for: SECURITY`, which
 * @apollo/gateway refuses to load: a copy where those @link applications are not marked for SECURITY
 * (the same transform our gateway applies before loading it; the plain gateway then enforces none of them).
 */
export function withoutSecurityPurpose(supergraphSdl: string): string {
  return supergraphSdl.replace(SECURITY_LINKS, '$1)');
}

export interface PlainGateway {
  /** Where to POST GraphQL, e.g. http://127.0.0.1:41236/ */
  url: string;
  stop(): Promise<void>;
}

/**
 * The baseline: what anyone gets from the Apollo docs, `new ApolloGateway({ supergraphSdl })` behind
 * `new ApolloServer({ gateway })` with default settings and the standalone HTTP server. One non-default
 * setting, without which the subgraphs answer nothing: `buildService` adds the gateway's internal token
 * (`internalToken()`, kept fresh by the caller) to every subgraph request, as our gateway does.
 */
export async function startPlainGateway(
  supergraphSdl: string,
  internalToken: () => string,
): Promise<PlainGateway> {
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request }) {
          request.http?.headers.set(INTERNAL_TOKEN_HEADER, internalToken());
        },
      }),
  });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, stop: () => server.stop() };
}
