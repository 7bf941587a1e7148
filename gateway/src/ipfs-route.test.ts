import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createContentStore, createLogger, createMemoryCache, type ContentStore } from '@symbeon/kernel';
import { createEmbeddedContentStore } from '@symbeon/kernel/content';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayEnv } from './env.js';
import { startGateway, type Gateway } from './gateway.js';
import { ipfsRoute } from './ipfs-route.js';

const logger = createLogger('ipfs-route-test', { level: 'silent' });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http rather than fetch: fetch adds headers of its own and hides HEAD bodies. */
function call(
  base: string,
  pathname: string,
  options: { method?: string; headers?: Record<string, string> } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      new URL(pathname, base),
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'symbeon-ipfs-route-'));
  folders.push(dir);
  return dir;
}

describe('GET|HEAD /ipfs/<cid>', () => {
  let store: ContentStore;
  let server: Server;
  let base: string;
  let admitted = 0;
  const text = new TextEncoder().encode('hello world\n');
  const big = new Uint8Array(600_000).map((_, i) => (i * 7) % 251);
  let textCid: string;
  let bigCid: string;
  let htmlCid: string;
  let svgCid: string;
  let pdfCid: string;
  let untypedCid: string;
  let emptyCid: string;

  beforeAll(async () => {
    store = await createEmbeddedContentStore({ directory: await tempDir() });
    textCid = (await store.add(text, { mediaType: 'text/plain; charset=utf-8' })).cid;
    bigCid = (await store.add(big, { mediaType: 'image/png' })).cid;
    htmlCid = (
      await store.add(new TextEncoder().encode('<script>alert(1)</script>'), { mediaType: 'text/html' })
    ).cid;
    svgCid = (
      await store.add(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'), {
        mediaType: 'image/svg+xml',
      })
    ).cid;
    pdfCid = (await store.add(new TextEncoder().encode('%PDF-1.7'), { mediaType: 'application/pdf' })).cid;
    untypedCid = (await store.add(new TextEncoder().encode('bytes'))).cid;
    emptyCid = (await store.add(new Uint8Array(0), { mediaType: 'text/plain' })).cid;
    const handle = ipfsRoute({
      store,
      maxServeBytes: 500_000,
      logger,
      admit: async () => {
        admitted++;
        return true;
      },
    });
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await store?.close();
  });

  it('serves a stored file with its media type, immutable caching and the CID as entity tag', async () => {
    const before = admitted;
    const answer = await call(base, `/ipfs/${textCid}`);
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('hello world\n');
    expect(answer.headers).toMatchObject({
      'content-type': 'text/plain; charset=utf-8',
      'content-length': '12',
      'cache-control': 'public, max-age=31536000, immutable',
      etag: `"${textCid}"`,
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
    });
    expect(answer.headers['content-security-policy']).toBeUndefined();
    expect(admitted).toBe(before + 1);
    // A trailing slash and the CIDv0 spelling of a dag-pb root name the same file.
    expect((await call(base, `/ipfs/${textCid}/`)).status).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const answer = await call(base, `/ipfs/${textCid}`, { method: 'HEAD' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe('12');
    expect(answer.body).toHaveLength(0);
  });

  it('types unknown content application/octet-stream', async () => {
    const answer = await call(base, `/ipfs/${untypedCid}`);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect(answer.headers['content-security-policy']).toBeUndefined();
  });

  it('sandboxes documents that could run script on our origin', async () => {
    for (const cid of [htmlCid, svgCid]) {
      const answer = await call(base, `/ipfs/${cid}`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await call(base, `/ipfs/${pdfCid}`)).headers['content-security-policy']).toBeUndefined();
  });

  it('answers 304 to a matching If-None-Match', async () => {
    for (const tag of [`"${textCid}"`, `W/"${textCid}"`, `"other", "${textCid}"`, '*']) {
      const answer = await call(base, `/ipfs/${textCid}`, { headers: { 'if-none-match': tag } });
      expect(answer.status).toBe(304);
      expect(answer.body).toHaveLength(0);
      expect(answer.headers.etag).toBe(`"${textCid}"`);
    }
    expect((await call(base, `/ipfs/${textCid}`, { headers: { 'if-none-match': '"other"' } })).status).toBe(
      200,
    );
  });

  it('serves one byte range with 206, and 416 past the end', async () => {
    const ranged = await call(base, `/ipfs/${textCid}`, { headers: { range: 'bytes=6-10' } });
    expect(ranged.status).toBe(206);
    expect(ranged.body.toString()).toBe('world');
    expect(ranged.headers['content-range']).toBe('bytes 6-10/12');
    expect(ranged.headers['content-length']).toBe('5');

    const suffix = await call(base, `/ipfs/${textCid}`, { headers: { range: 'bytes=-6' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.toString()).toBe('world\n');
    const open = await call(base, `/ipfs/${textCid}`, { headers: { range: 'bytes=6-' } });
    expect(open.body.toString()).toBe('world\n');
    expect(open.headers['content-range']).toBe('bytes 6-11/12');
    const clamped = await call(base, `/ipfs/${textCid}`, { headers: { range: 'bytes=10-99' } });
    expect(clamped.headers['content-range']).toBe('bytes 10-11/12');

    const past = await call(base, `/ipfs/${textCid}`, { headers: { range: 'bytes=12-' } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */12');
    expect((await call(base, `/ipfs/${emptyCid}`, { headers: { range: 'bytes=0-' } })).status).toBe(416);

    // Several ranges, or a malformed header: the whole file.
    for (const range of ['bytes=0-1,4-5', 'bytes=5-2', 'items=0-1']) {
      const whole = await call(base, `/ipfs/${textCid}`, { headers: { range } });
      expect(whole.status).toBe(200);
      expect(whole.body.toString()).toBe('hello world\n');
    }
    // If-Range naming another version: the whole file.
    const stale = await call(base, `/ipfs/${textCid}`, {
      headers: { range: 'bytes=0-1', 'if-range': '"other"' },
    });
    expect(stale.status).toBe(200);
  });

  it('streams a range across blocks of a multi-block file', async () => {
    const small = await store.add(big.subarray(0, 400_000), { mediaType: 'image/png' });
    const answer = await call(base, `/ipfs/${small.cid}`, { headers: { range: 'bytes=262000-262999' } });
    expect(answer.status).toBe(206);
    expect(answer.body.equals(Buffer.from(big.subarray(262_000, 263_000)))).toBe(true);
    const whole = await call(base, `/ipfs/${small.cid}`);
    expect(whole.body.equals(Buffer.from(big.subarray(0, 400_000)))).toBe(true);
  });

  it('refuses files over the size limit with 404 CONTENT_TOO_LARGE', async () => {
    const answer = await call(base, `/ipfs/${bigCid}`);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { code: 'CONTENT_TOO_LARGE' } });
    expect((await call(base, `/ipfs/${bigCid}`, { headers: { range: 'bytes=0-9' } })).status).toBe(404);
  });

  it('answers 400 for an invalid CID and 404 for an unknown one or a path inside content', async () => {
    const invalid = await call(base, '/ipfs/not-a-cid');
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body.toString())).toMatchObject({ error: { code: 'INVALID_CID' } });
    expect((await call(base, '/ipfs/%E0%A4%A')).status).toBe(400);

    const unknown = await call(base, '/ipfs/bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['cache-control']).toBe('no-store');
    expect((await call(base, `/ipfs/${textCid}/inside.txt`)).status).toBe(404);
    expect((await call(base, '/ipfs/')).status).toBe(404);
  });

  it('accepts only GET and HEAD', async () => {
    const answer = await call(base, `/ipfs/${textCid}`, { method: 'POST' });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD');
  });
});

describe('/ipfs/ on the gateway', () => {
  let gateway: Gateway;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir();
    gateway = await startGateway({
      env: parseGatewayEnv({
        PORT: '0',
        LOG_LEVEL: 'silent',
        DATA_DIR: dataDir,
        INTERNAL_AUTH_SECRET: 'x'.repeat(48),
        RATE_LIMITS: 'ANONYMOUS:4/1000',
        IPFS_MAX_SERVE_BYTES: '1000',
      }),
      logger,
      cache: createMemoryCache(),
    });
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('serves the store in DATA_DIR/ipfs and limits requests per client address', async () => {
    // Another process sharing DATA_DIR (a subgraph in the services profile, here a second instance).
    const writer = await createContentStore({ DATA_DIR: dataDir });
    const { cid } = await writer.add(new TextEncoder().encode('{"certificate":1}'), {
      mediaType: 'application/json',
    });
    await writer.close();

    const ok = await call(gateway.url, `/ipfs/${cid}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json');
    expect(ok.body.toString()).toBe('{"certificate":1}');
    expect((await call(gateway.url, '/ipfs/nope')).status).toBe(400);
    expect((await call(gateway.url, `/ipfs/${cid}`, { method: 'HEAD' })).status).toBe(200);
    expect((await call(gateway.url, `/ipfs/${cid}`)).status).toBe(200);
    const limited = await call(gateway.url, `/ipfs/${cid}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body.toString())).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });
});
