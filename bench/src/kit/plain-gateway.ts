import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

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

export interface PlainGateway {
  /** Where to POST GraphQL, e.g. http://127.0.0.1:41236/ */
  url: string;
  stop(): Promise<void>;
}

/**
 * The baseline: what anyone gets from the Apollo docs, `new ApolloGateway({ supergraphSdl })` behind
 * `new ApolloServer({ gateway })` with default settings and the standalone HTTP server.
 */
export async function startPlainGateway(supergraphSdl: string): Promise<PlainGateway> {
  const gateway = new ApolloGateway({ supergraphSdl });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, stop: () => server.stop() };
}
