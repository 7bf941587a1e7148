import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CID } from 'multiformats/cid';
import type { ContentStore } from './content-store.js';

/**
 * For tests only: the few Kubo RPC endpoints the Kubo adapter uses (`add`, `cat`, `files/stat`,
 * `files/read`, `files/write`, `pin/add`), answered as Kubo answers them (POST only, JSON / NDJSON bodies,
 * errors as HTTP 500 `{ Message, Code, Type: "error" }`), backed by a real ContentStore (the embedded one).
 * Kubo itself cannot be installed here (its npm package downloads a binary), so this proves the adapter
 * and the real kubo-rpc-client speak the protocol over real HTTP; it proves nothing about Kubo's own CIDs
 * (those are checked against published values and an independent DAG build in cid-compat.test.ts).
 *
 * It refuses an `add` without `cid-version=1`, `raw-leaves=true`, `chunker=size-262144` and `pin=true`,
 * and records every call so tests can check the parameters the adapter sent.
 */
export interface KuboRpcStandIn {
  url: string;
  calls: Array<{ path: string; params: URLSearchParams }>;
  /** CIDs pinned through `add` or `pin/add`. */
  pins: Set<string>;
  close(): Promise<void>;
}

class RpcError extends Error {}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function formFiles(req: IncomingMessage): Promise<Uint8Array[]> {
  const request = new Request('http://stand-in/', {
    method: 'POST',
    headers: { 'content-type': req.headers['content-type'] ?? '' },
    body: Readable.toWeb(req),
    duplex: 'half',
  });
  const form = await request.formData();
  const files: Uint8Array[] = [];
  for (const [, value] of form) {
    if (typeof value !== 'string') files.push(new Uint8Array(await value.arrayBuffer()));
  }
  return files;
}

function cidArgument(params: URLSearchParams): string {
  const arg = params.get('arg') ?? '';
  const text = arg.replace(/^\/ipfs\//, '');
  try {
    return CID.parse(text).toString();
  } catch {
    throw new RpcError(`invalid path "${arg}": invalid cid`);
  }
}

export async function startKuboRpcStandIn(backend: ContentStore): Promise<KuboRpcStandIn> {
  const calls: KuboRpcStandIn['calls'] = [];
  const pins = new Set<string>();
  const mfs = new Map<string, Uint8Array>();

  const notFound = (cid: string) =>
    new RpcError(`block was not found locally (offline): ipld: could not find ${cid}`);

  const handlers: Record<
    string,
    (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void>
  > = {
    async add(req, res, params) {
      const required = { 'cid-version': '1', 'raw-leaves': 'true', chunker: 'size-262144', pin: 'true' };
      for (const [name, value] of Object.entries(required)) {
        if (params.get(name) !== value) throw new RpcError(`stand-in: add needs ${name}=${value}`);
      }
      const [file] = await formFiles(req);
      if (!file) throw new RpcError('file argument "path" is required');
      const { cid, size } = await backend.add(file);
      pins.add(cid);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ Name: cid, Hash: cid, Size: String(size) })}\n`);
    },

    async cat(_req, res, params) {
      const cid = cidArgument(params);
      const offset = Number(params.get('offset') ?? 0);
      const length = params.has('length') ? Number(params.get('length')) : undefined;
      const content = await backend.get(cid, length === undefined ? { offset } : { offset, length });
      if (!content) throw notFound(cid);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-stream-output': '1' });
      await pipeline(Readable.from(content), res);
    },

    async 'files/stat'(_req, res, params) {
      const cid = cidArgument(params);
      const stat = await backend.stat(cid);
      if (!stat) throw notFound(cid);
      sendJson(res, 200, { Hash: cid, Size: stat.size, CumulativeSize: stat.size, Blocks: 0, Type: 'file' });
    },

    async 'files/write'(req, res, params) {
      const path = params.get('arg') ?? '';
      if (params.get('create') !== 'true' || params.get('parents') !== 'true')
        throw new RpcError('stand-in: files/write needs create=true and parents=true');
      const [file] = await formFiles(req);
      if (!file) throw new RpcError('file argument "data" is required');
      mfs.set(path, file);
      res.writeHead(200);
      res.end();
    },

    async 'files/read'(_req, res, params) {
      const content = mfs.get(params.get('arg') ?? '');
      if (!content) throw new RpcError('file does not exist');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(content);
    },

    async 'pin/add'(_req, res, params) {
      const cid = cidArgument(params);
      if (!(await backend.has(cid))) throw notFound(cid);
      pins.add(cid);
      sendJson(res, 200, { Pins: [cid] });
    },
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.replace(/^\/api\/v0\//, '');
    calls.push({ path, params: url.searchParams });
    const handler = handlers[path];
    if (req.method !== 'POST') return sendJson(res, 405, { Message: 'POST only', Code: 0, Type: 'error' });
    if (!handler) return sendJson(res, 404, { Message: `unknown command ${path}`, Code: 0, Type: 'error' });
    handler(req, res, url.searchParams).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      // An aborted upload has nobody left to answer.
      if (req.destroyed) return;
      sendJson(res, 500, {
        Message: error instanceof Error ? error.message : String(error),
        Code: 0,
        Type: 'error',
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    pins,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
