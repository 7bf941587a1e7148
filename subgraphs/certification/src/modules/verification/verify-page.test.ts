import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createLogger } from '@symbeon/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import type { Verification } from './verification-manager.js';
import { verifyPageRoute } from './verify-page.js';

// The page's rendering over a real HTTP server; the verification itself is given (it has its own tests on
// a real chain): what is checked here is what reaches a browser — escaping, statuses, JSON on request.
const id = randomUUID();
let server: Server;
let base: string;

const verification = (verdict: Verification['verdict']): Verification => ({
  verdict,
  tokenId: '42',
  checkedAt: new Date('2026-11-29T10:00:00Z'),
  steps: [
    {
      key: 'integrity',
      label: 'Metadata <integrity>',
      passed: true,
      detail: 'sha-256 "ok" & <b>',
      evidence: null,
    },
  ],
  certificate: {
    id,
    programmeId: randomUUID(),
    holderAddress: '0x0000000000000000000000000000000000000001',
    issuedAt: new Date('2026-01-01T00:00:00Z'),
    expiresAt: new Date('2027-01-01T00:00:00Z'),
    metadataCid: 'bafkreimetadata',
    credentialCid: 'bafkreicredential',
  } as CertificateRow,
});

beforeAll(async () => {
  const route = verifyPageRoute({
    verify: async (args) =>
      args.id === id ? verification('VALID') : { ...verification('UNKNOWN'), certificate: null, steps: [] },
    qrCodeSvg: async () => '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
    programmeName: async () => 'Foundations <script>alert(1)</script>',
    contentUrl: (cid) => `https://symbeon.example/ipfs/${cid}`,
    logger: createLogger('test', { level: 'silent' }),
  });
  // The page does not use the request identity the subgraph server passes to routes.
  server = createServer((req, res) => void route(req, res, {} as Parameters<typeof route>[2]));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('the verification page', () => {
  it('renders the verdict, the facts and every step, escaped, with a strict CSP and no caching', async () => {
    const response = await fetch(`${base}/verify/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain('Valid certificate');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Foundations &#60;script&#62;');
    expect(html).toContain('Metadata &#60;integrity&#62;');
    expect(html).toContain('sha-256 &#34;ok&#34; &#38; &#60;b&#62;');
    expect(html).toContain('https://symbeon.example/ipfs/bafkreicredential');
  });

  it('answers JSON when asked, 404 for unknown or malformed ids, 405 for other methods', async () => {
    const json = await fetch(`${base}/verify/${id}`, { headers: { accept: 'application/json' } });
    expect(await json.json()).toMatchObject({ verdict: 'VALID', valid: true, tokenId: '42' });
    expect((await fetch(`${base}/verify/${randomUUID()}`)).status).toBe(404);
    expect((await fetch(`${base}/verify/not-an-id`)).status).toBe(404);
    expect((await fetch(`${base}/verify/${id}`, { method: 'POST' })).status).toBe(405);
  });
});
