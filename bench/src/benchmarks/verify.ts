import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type AutocannonResult } from 'autocannon';
import { Contract, type EventLog, id, JsonRpcProvider, Network } from 'ethers';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { benchSecrets, signInWithEthereum, UNREACHABLE_RATE_LIMITS } from '../kit/auth.js';
import { embeddedStackEnv, repositoryRoot, startStackProcess } from '../kit/node-processes.js';
import { describeOptions, parseNumberOptions, type NumberOption } from '../kit/options.js';
import { Cleanup, loadNote, machineFacts, print, round, table, writeResults } from '../kit/report.js';

const options = {
  duration: { default: 10, min: 1, description: 'seconds of load per side' },
  connections: {
    default: 10,
    min: 1,
    description: 'concurrent requests (API) and concurrent loops (direct)',
  },
} satisfies Record<string, NumberOption>;

export const verifyBenchmark = {
  name: 'verify',
  summary:
    'verifyCertificate through the gateway against the same chain reads and IPFS hash check done directly',
  usage: describeOptions(options),
  run: runVerifyBenchmark,
};

const TARGET_RATIO = 2;
const ISSUER_ROLE = id('ISSUER_ROLE');
const VERIFY = `query ($id: ID!) { verifyCertificate(id: $id) { verdict valid steps { key passed detail } } }`;

interface Side {
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A small but complete PDF (one empty page): what the audit's PDF check parses. */
function minimalPdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>',
  ];
  let body = '%PDF-1.7\n';
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(Buffer.byteLength(body));
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body);
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

function graphqlClient(url: string) {
  return async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors).slice(0, 500)}`);
    return body.data;
  };
}

async function until<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The real journey, as the demo users walk it: ada's request, her portfolio, the audit, alan's approval, issuance. */
async function issueOneCertificate(gateway: string) {
  const graphql = graphqlClient(`${gateway}/graphql`);
  const ada = await signInWithEthereum(`${gateway}/graphql`, anvilDevAccounts[1].privateKey);
  const alan = await signInWithEthereum(`${gateway}/graphql`, anvilDevAccounts[2].privateKey);
  const { programme } = await graphql('{ programme(slug: "foundations") { id } }');
  const created = await graphql(
    'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code message } request { id } } }',
    { id: programme.id },
    ada.accessToken,
  );
  const requestId: string = created.createCertificationRequest.request.id;
  const pdf = minimalPdf();
  const ticket = await graphql(
    `
      mutation ($requestId: ID!, $size: Int!) {
        createEvidenceUpload(
          requestId: $requestId
          evidenceKey: "portfolio"
          fileName: "portfolio.pdf"
          mediaType: "application/pdf"
          size: $size
        ) {
          ok
          error {
            code
            message
          }
          upload {
            url
          }
        }
      }
    `,
    { requestId, size: pdf.length },
    ada.accessToken,
  );
  const put = await fetch(ticket.createEvidenceUpload.upload.url, {
    method: 'PUT',
    body: pdf,
    headers: { 'content-type': 'application/pdf' },
  });
  if (put.status !== 200) throw new Error(`evidence upload answered HTTP ${put.status}`);
  await graphql(
    'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok } }',
    { id: requestId },
    ada.accessToken,
  );
  const status = async () =>
    (
      await graphql(
        'query ($id: ID!) { certificationRequest(id: $id) { status certificate { id tokenId metadataCid } } }',
        { id: requestId },
        ada.accessToken,
      )
    ).certificationRequest as {
      status: string;
      certificate: { id: string; tokenId: string; metadataCid: string };
    };
  await until(
    async () => ((await status()).status === 'AWAITING_REVIEW' ? true : undefined),
    'AWAITING_REVIEW',
  );
  await graphql(
    'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "bench") { ok } }',
    { id: requestId },
    alan.accessToken,
  );
  const issued = await until(async () => {
    const seen = await status();
    return seen.status === 'ISSUED' && seen.certificate?.tokenId ? seen.certificate : undefined;
  }, 'ISSUED');
  return issued;
}

async function apiLoad(
  url: string,
  certificateId: string,
  seconds: number,
  connections: number,
): Promise<Side> {
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: VERIFY, variables: { id: certificateId } }),
        connections,
        duration: seconds,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
  });
  return {
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
    requestsPerSecond: round(result.requests.average, 1),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/**
 * What verifyCertificate reads, done directly by one script: the token's on-chain record, the metadata from
 * IPFS (the gateway's /ipfs) re-hashed against the on-chain digest, the credential it links re-hashed, the
 * CertificateIssued log, ISSUER_ROLE at that block, and the head for confirmations and expiry. Same order,
 * the same sequential calls as the resolver.
 */
function directVerifier(rpcUrl: string, gateway: string, deploymentPath: string) {
  const deployment = JSON.parse(readFileSync(deploymentPath, 'utf8')) as {
    chainId: number;
    contracts: { SymbeonCertificate: { address: string; blockNumber: number } };
  };
  const { abi } = JSON.parse(
    readFileSync(path.join(repositoryRoot, 'contracts', 'artifacts', 'SymbeonCertificate.json'), 'utf8'),
  ) as { abi: unknown[] };
  const provider = new JsonRpcProvider(rpcUrl, Network.from(deployment.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  const contract = new Contract(deployment.contracts.SymbeonCertificate.address, abi as never, provider);
  const sha256 = (bytes: Buffer) => `0x${createHash('sha256').update(bytes).digest('hex')}`;
  const fetchBytes = async (cid: string) => {
    const response = await fetch(`${gateway}/ipfs/${cid}`);
    if (response.status !== 200) throw new Error(`/ipfs/${cid} answered HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  async function verify(tokenId: string, metadataCid: string): Promise<boolean> {
    const record = (await contract.getFunction('certificate').staticCall(tokenId)) as {
      holder: string;
      expiresAt: bigint;
      revoked: boolean;
      contentDigest: string;
    };
    const metadata = await fetchBytes(metadataCid);
    const intact = sha256(metadata) === record.contentDigest;
    const link = (JSON.parse(metadata.toString('utf8')) as { credential?: string }).credential;
    if (link?.startsWith('ipfs://')) sha256(await fetchBytes(link.slice('ipfs://'.length)));
    const logs = await contract.queryFilter(
      contract.filters.CertificateIssued!(tokenId),
      deployment.contracts.SymbeonCertificate.blockNumber,
    );
    const log = logs.find((entry): entry is EventLog => 'args' in entry);
    const issuer = log ? String(log.args.getValue('issuer')) : undefined;
    const role = issuer
      ? ((await contract.getFunction('hasRole').staticCall(ISSUER_ROLE, issuer, {
          blockTag: log!.blockNumber,
        })) as boolean)
      : false;
    const [, latest] = await Promise.all([provider.getBlockNumber(), provider.getBlock('latest')]);
    const notExpired = record.expiresAt === 0n || BigInt(latest?.timestamp ?? 0) < record.expiresAt;
    return intact && role && !record.revoked && notExpired;
  }
  return { verify, close: () => provider.destroy() };
}

async function directLoad(
  verify: () => Promise<boolean>,
  seconds: number,
  connections: number,
): Promise<Side & { allValid: boolean }> {
  const latencies: number[] = [];
  let errors = 0;
  let allValid = true;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const at = performance.now();
        try {
          if (!(await verify())) allValid = false;
          latencies.push(performance.now() - at);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    requestsPerSecond: round(latencies.length / elapsed, 1),
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    allValid,
  };
}

async function runVerifyBenchmark(argv: string[]): Promise<void> {
  const settings = parseNumberOptions(argv, options);
  const cleanup = new Cleanup();
  const secrets = benchSecrets();
  try {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-bench-verify-'));
    cleanup.add('remove data dir', () => rmSync(dataDir, { recursive: true, force: true }));
    // Upload URLs name the gateway's public origin: its port is chosen up front.
    const port = await freePort();
    const stack = startStackProcess(
      embeddedStackEnv(dataDir, {
        INTERNAL_AUTH_SECRET: secrets.INTERNAL_AUTH_SECRET,
        SECRETS_KEY: secrets.SECRETS_KEY,
        CHAIN_SIGNER_KEY: secrets.CHAIN_SIGNER_KEY,
        RATE_LIMITS: UNREACHABLE_RATE_LIMITS,
        PORT: String(port),
        CERTIFICATION_PUBLIC_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      }),
    );
    cleanup.add('stop stack', () => stack.stop());
    const urls = await stack.urls();
    const [, rpcUrl] = await stack.waitFor(/chain node \(JSON-RPC\)\s+(http:\/\/\S+)/, 5_000);

    print(`verify benchmark — ${machineFacts().cpus} CPUs; the load generators run in this process`);
    print(loadNote());
    const issuedAt = performance.now();
    const certificate = await issueOneCertificate(urls.gateway);
    print(
      `issued certificate ${certificate.id} (token ${certificate.tokenId}) through the real journey in ` +
        `${round((performance.now() - issuedAt) / 1000, 1)} s`,
    );

    const graphql = graphqlClient(`${urls.gateway}/graphql`);
    const first = await graphql(VERIFY, { id: certificate.id });
    const verdict = first.verifyCertificate as {
      verdict: string;
      valid: boolean;
      steps: Array<{ key: string }>;
    };
    print(`verifyCertificate: ${verdict.verdict} (${verdict.steps.map((step) => step.key).join(', ')})`);

    const direct = directVerifier(rpcUrl!, urls.gateway, path.join(dataDir, 'chain', 'deployment.json'));
    cleanup.add('close direct provider', () => direct.close());
    const directValid = await direct.verify(certificate.tokenId, certificate.metadataCid);

    const api = await apiLoad(
      `${urls.gateway}/graphql`,
      certificate.id,
      settings.duration,
      settings.connections,
    );
    const plain = await directLoad(
      () => direct.verify(certificate.tokenId, certificate.metadataCid),
      settings.duration,
      settings.connections,
    );
    const ratio = {
      throughput: round(plain.requestsPerSecond / api.requestsPerSecond, 2),
      p50: round(api.p50Ms / plain.p50Ms, 2),
      p99: round(api.p99Ms / plain.p99Ms, 2),
    };
    print(
      table(
        ['side', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms'],
        [
          [
            'API (gateway → certification)',
            api.requests,
            api.errors,
            api.requestsPerSecond,
            api.p50Ms,
            api.p99Ms,
          ],
          [
            'direct (ethers + /ipfs)',
            plain.requests,
            plain.errors,
            plain.requestsPerSecond,
            plain.p50Ms,
            plain.p99Ms,
          ],
        ],
      ),
    );
    const worst = Math.max(ratio.throughput, ratio.p50);
    print(
      `cost of the API: ${ratio.throughput}× the direct reads' throughput cost, p50 ${ratio.p50}×, p99 ${ratio.p99}× ` +
        `(target ≤ ${TARGET_RATIO}×): ${worst <= TARGET_RATIO ? 'met' : 'NOT met'}`,
    );
    print(`direct verdict valid: ${directValid && plain.allValid}; API verdict valid: ${verdict.valid}`);
    print(
      'note: verification reads everything on every call (no caching of immutable facts: the issuance log, ' +
        'the metadata and credential bytes, ISSUER_ROLE at the issuance block are re-read each time).',
    );
    const file = writeResults('verify', {
      machine: machineFacts(),
      settings,
      certificate,
      verdict: verdict.verdict,
      api,
      direct: plain,
      ratio,
      target: TARGET_RATIO,
      met: worst <= TARGET_RATIO,
    });
    print(`written to ${file}`);
  } finally {
    await cleanup.runAll();
  }
}
