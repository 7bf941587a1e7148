import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type AutocannonResult } from 'autocannon';
import { describeOptions, parseNumberOptions, type NumberOption } from '../kit/options.js';
import {
  benchSecrets,
  internalTokenSource,
  NO_HEADERS,
  UNREACHABLE_RATE_LIMITS,
  userHeaderSource,
  viewerHandle,
  type HeaderSource,
  type LoadHeaders,
} from '../kit/auth.js';
import { startPlainGateway, withoutSecurityPurpose, withRoutingUrls } from '../kit/plain-gateway.js';
import {
  Cleanup,
  loadNote,
  machineFacts,
  print,
  round,
  table,
  warningLines,
  writeResults,
} from '../kit/report.js';
import {
  embeddedStackEnv,
  GATEWAY_ENTRY,
  procCpuMs,
  repositoryRoot,
  startNodeProcess,
  startStackProcess,
  STACK_ENTRY,
  type StackUrls,
} from '../kit/node-processes.js';

const options = {
  duration: { default: 10, min: 1, description: 'seconds measured per case' },
  connections: { default: 32, min: 1, description: 'concurrent keep-alive connections' },
  warmup: {
    default: 2,
    min: 0,
    description:
      'seconds of unmeasured load per case, all cases first (and up to 1 s again right before each)',
  },
} satisfies Record<string, NumberOption>;

export const gatewayBenchmark = {
  name: 'gateway',
  summary:
    'throughput, latency, CPU: subgraph direct vs our gateway vs a plain ApolloGateway; cost of authentication',
  usage: describeOptions(options),
  run: runGatewayBenchmark,
};

const QUERIES = {
  single: '{ courses(first: 10) { edges { node { id title slug } } } }',
  cross: '{ courses(first: 10) { edges { node { id title instructor { id displayName handle } } } } }',
} as const;
type QueryName = keyof typeof QUERIES;

type TargetName = 'subgraph' | 'ours' | 'standalone' | 'standaloneUser' | 'plain';
const TARGET_LABELS: Record<TargetName, string> = {
  subgraph: '(a) learning subgraph direct',
  ours: '(b) our gateway (in the stack)',
  standalone: '(d) our gateway (own process)',
  standaloneUser: '(e) = (d) signed in (Bearer)',
  plain: '(c) plain ApolloGateway',
};

/** The demo user (e) signs in as: anvil dev account 1, linked to "ada" in the embedded profile's seed. */
const DEMO_USER = {
  handle: 'ada',
  key: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
};

// (e) right after (d): the authentication overhead compares two neighbouring cases.
const CASES: Array<{ target: TargetName; query: QueryName }> = [
  { target: 'subgraph', query: 'single' },
  { target: 'ours', query: 'single' },
  { target: 'standalone', query: 'single' },
  { target: 'standaloneUser', query: 'single' },
  { target: 'plain', query: 'single' },
  { target: 'ours', query: 'cross' },
  { target: 'standalone', query: 'cross' },
  { target: 'standaloneUser', query: 'cross' },
  { target: 'plain', query: 'cross' },
];

/** Overhead target of authentication + authorization + rate limiting, per query (the identity issue). */
const AUTH_OVERHEAD_TARGET = 0.1;

/** The processes whose CPU time is sampled around each case. */
type ProcessName = 'stack' | 'standaloneGateway' | 'bench';
type CpuByProcess = Record<ProcessName, number | null>;

interface CaseResult {
  target: TargetName;
  query: QueryName;
  url: string;
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Responses whose body differed from the one checked before the run. */
  mismatches: number;
  /**
   * The case outlived a token, so each request was built anew with the current one (more bench CPU per
   * request than a fixed request).
   */
  headersPerRequest: boolean;
  statusCodes: Record<string, number>;
  /**
   * CPU time per completed request, in microseconds, minus what each process burns when idle (timers,
   * polling) over the same wall time; `raw` is without that correction.
   */
  cpuMicrosPerRequest: CpuByProcess & { raw: CpuByProcess };
}

function cpuSnapshot(pids: { stack: number; standaloneGateway: number }): CpuByProcess {
  const bench = process.cpuUsage();
  return {
    stack: procCpuMs(pids.stack) ?? null,
    standaloneGateway: procCpuMs(pids.standaloneGateway) ?? null,
    bench: (bench.user + bench.system) / 1000,
  };
}

function cpuDelta(before: CpuByProcess, after: CpuByProcess): CpuByProcess {
  const delta = (name: ProcessName) => {
    const start = before[name];
    const end = after[name];
    return start !== null && end !== null ? end - start : null;
  };
  return { stack: delta('stack'), standaloneGateway: delta('standaloneGateway'), bench: delta('bench') };
}

/** CPU milliseconds per wall-clock second each process spends with no requests in flight. */
async function measureIdleCpu(
  pids: { stack: number; standaloneGateway: number },
  seconds: number,
): Promise<CpuByProcess> {
  const before = cpuSnapshot(pids);
  const started = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const used = cpuDelta(before, cpuSnapshot(pids));
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = (ms: number | null) => (ms === null ? null : round(ms / wallSeconds));
  return {
    stack: rate(used.stack),
    standaloneGateway: rate(used.standaloneGateway),
    bench: rate(used.bench),
  };
}

/** One request before measuring: the target answers this query with data and no errors. */
async function expectedBody(url: string, query: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  let parsed: {
    data?: { courses?: { edges?: Array<{ node?: Record<string, unknown> }> } };
    errors?: unknown;
  };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`${url} answered HTTP ${response.status} with a non-JSON body: ${text.slice(0, 300)}`);
  }
  const edges = parsed.data?.courses?.edges;
  if (response.status !== 200 || parsed.errors !== undefined || !edges || edges.length === 0) {
    throw new Error(
      `${url} did not answer ${query} with data: HTTP ${response.status} ${text.slice(0, 500)}`,
    );
  }
  if (query.includes('instructor') && edges.some((edge) => !edge.node?.instructor)) {
    throw new Error(`${url} answered ${query} without instructors: ${text.slice(0, 500)}`);
  }
  return text;
}

async function load(
  url: string,
  query: string,
  body: string,
  seconds: number,
  connections: number,
  credentials: HeaderSource,
) {
  const { headers, live }: LoadHeaders = await credentials.forSeconds(seconds);
  return new Promise<AutocannonResult>((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
        connections,
        duration: seconds,
        // Only when a load outlives a token: builds each request anew with the current one (autocannon
        // refuses expectBody beside `requests`; verifyBody counts mismatches the same way).
        ...(live
          ? {
              verifyBody: (received: string) => received === body,
              requests: [
                {
                  setupRequest: (request) => {
                    request.headers = { ...request.headers, ...live() };
                    return request;
                  },
                },
              ],
            }
          : { expectBody: body }),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

async function waitUntilReady(origin: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${origin}/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${origin}/ready did not answer 200 in ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function runCase(
  target: TargetName,
  query: QueryName,
  url: string,
  body: string,
  credentials: HeaderSource,
  settings: { duration: number; connections: number; warmup: number },
  pids: { stack: number; standaloneGateway: number },
  idle: CpuByProcess,
): Promise<CaseResult> {
  const rewarm = Math.min(1, settings.warmup);
  if (rewarm > 0) await load(url, QUERIES[query], body, rewarm, settings.connections, credentials);
  // Signed (or signed in) before the CPU snapshot: obtaining credentials is not part of the case.
  const measured = await credentials.forSeconds(settings.duration + 1);
  await sleep(250);
  const before = cpuSnapshot(pids);
  const started = process.hrtime.bigint();
  const result = await load(url, QUERIES[query], body, settings.duration, settings.connections, {
    describe: credentials.describe,
    forSeconds: async () => measured,
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = cpuDelta(before, cpuSnapshot(pids));
  const requests = result.requests.total;
  const perRequest = (cpuMs: number | null) =>
    cpuMs === null ? null : requests > 0 ? round((cpuMs * 1000) / requests, 0) : 0;
  const withoutIdle = (name: ProcessName) => {
    const cpuMs = used[name];
    const idleRate = idle[name];
    return cpuMs === null || idleRate === null
      ? null
      : perRequest(Math.max(0, cpuMs - idleRate * wallSeconds));
  };
  return {
    target,
    query,
    url,
    requests,
    durationSeconds: result.duration,
    requestsPerSecond: round(requests / result.duration, 0),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: result.latency.mean,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    headersPerRequest: measured.live !== undefined,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
    ),
    cpuMicrosPerRequest: {
      stack: withoutIdle('stack'),
      standaloneGateway: withoutIdle('standaloneGateway'),
      bench: withoutIdle('bench'),
      raw: {
        stack: perRequest(used.stack),
        standaloneGateway: perRequest(used.standaloneGateway),
        bench: perRequest(used.bench),
      },
    },
  };
}

const ratio = (numerator: number | undefined, denominator: number | undefined) =>
  numerator !== undefined && denominator ? round(numerator / denominator, 2) : null;

interface AuthOverhead {
  anonymous: AuthSide;
  authenticated: AuthSide;
  /** (authenticated − anonymous) / anonymous. */
  overhead: { timePerRequest: number | null; gatewayCpu: number | null; subgraphsCpu: number | null };
  verdicts: { timePerRequest: string; gatewayCpu: string };
  /** Whether the signed-in response body equals the anonymous one. */
  sameBody: boolean;
}

interface AuthSide {
  requestsPerSecond: number | null;
  gatewayCpuMicrosPerRequest: number | null;
  subgraphsCpuMicrosPerRequest: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

function authenticationOverhead(
  anonymous: CaseResult | undefined,
  authenticated: CaseResult | undefined,
  sameBody: boolean,
): AuthOverhead {
  const side = (result: CaseResult | undefined): AuthSide => ({
    requestsPerSecond: result?.requestsPerSecond ?? null,
    gatewayCpuMicrosPerRequest: result?.cpuMicrosPerRequest.standaloneGateway ?? null,
    subgraphsCpuMicrosPerRequest: result?.cpuMicrosPerRequest.stack ?? null,
    p50Ms: result?.latencyMs.p50 ?? null,
    p99Ms: result?.latencyMs.p99 ?? null,
  });
  const a = side(anonymous);
  const b = side(authenticated);
  const relative = (with_: number | null, without: number | null) =>
    with_ !== null && without !== null && without > 0 ? round((with_ - without) / without, 3) : null;
  const timePerRequest =
    a.requestsPerSecond !== null && b.requestsPerSecond
      ? round(a.requestsPerSecond / b.requestsPerSecond - 1, 3)
      : null;
  const gatewayCpu = relative(b.gatewayCpuMicrosPerRequest, a.gatewayCpuMicrosPerRequest);
  const verdict = (value: number | null) =>
    value === null ? 'n/a' : value <= AUTH_OVERHEAD_TARGET ? 'PASS' : 'MISS';
  return {
    anonymous: a,
    authenticated: b,
    overhead: {
      timePerRequest,
      gatewayCpu,
      subgraphsCpu: relative(b.subgraphsCpuMicrosPerRequest, a.subgraphsCpuMicrosPerRequest),
    },
    verdicts: { timePerRequest: verdict(timePerRequest), gatewayCpu: verdict(gatewayCpu) },
    sameBody,
  };
}

const percent = (value: number | null) =>
  value === null ? '?' : `${value >= 0 ? '+' : ''}${round(value * 100, 1)} %`;

/** Our gateway on its own, as the services profile runs it, routed to the stack's subgraphs. */
async function startStandaloneGateway(urls: StackUrls, authEnv: Record<string, string>, cleanup: Cleanup) {
  const gateway = startNodeProcess(GATEWAY_ENTRY, {
    ...authEnv,
    PORT: '0',
    NODE_ENV: 'production',
    // info: the "gateway ready" line carries the URL; nothing is logged per request at info.
    LOG_LEVEL: 'info',
    INTROSPECTION: 'true',
    DATABASE_URL: '',
    REDIS_URL: '',
    ...Object.fromEntries(
      Object.entries(urls.subgraphs).map(([name, url]) => [
        `SUBGRAPH_URL_${name.toUpperCase()}`,
        `${url}/graphql`,
      ]),
    ),
  });
  cleanup.add('stop standalone gateway', async () => {
    const before = gateway.output().length;
    const exit = await gateway.stop();
    if (exit.code !== 0 || exit.forced) {
      print(
        `problem: on SIGTERM the standalone gateway exited with code ${exit.code} signal ${exit.signal}` +
          `${exit.forced ? ' (SIGKILL)' : ''}, printing ${JSON.stringify(gateway.output().slice(before).trim())}`,
      );
    }
  });
  const [, origin] = await gateway.waitFor(
    /"url":"(http:\/\/[^"]+?)\/graphql"[^\n]*"msg":"gateway ready"/,
    60_000,
  );
  await waitUntilReady(origin!);
  return { process: gateway, origin: origin! };
}

async function runGatewayBenchmark(argv: string[]): Promise<void> {
  const settings = parseNumberOptions(argv, options);
  const cleanup = new Cleanup();
  try {
    print(
      `gateway benchmark: ${settings.duration} s measured per case, after ${settings.warmup} s of warm-up per ` +
        `case (all cases) and ${Math.min(1, settings.warmup)} s more right before each,`,
    );
    print(
      `  ${settings.connections} connections (HTTP/1.1 keep-alive, no pipelining), POST application/json`,
    );
    print(
      `load generator shares the machine: autocannon runs in this process on the same ${os.cpus().length} CPUs ` +
        'as the servers, so absolute numbers are pessimistic; compare the ratios',
    );
    print('inbound de-duplication: off');
    const machine = machineFacts();
    print(loadNote());

    // One secret for the run, in the env of the stack and of the standalone gateway (NODE_ENV=production
    // generates none); budgets the load cannot exhaust, the limiter still counting every request.
    const secrets = benchSecrets();
    const authEnv = {
      INTERNAL_AUTH_SECRET: secrets.INTERNAL_AUTH_SECRET,
      RATE_LIMITS: UNREACHABLE_RATE_LIMITS,
    };
    print(
      'auth: INTERNAL_AUTH_SECRET (48 random bytes) and SECRETS_KEY generated for this run and passed to the ' +
        `stack and the standalone gateway; RATE_LIMITS=${UNREACHABLE_RATE_LIMITS} (the limiter runs, ` +
        'nothing reaches a budget)',
    );

    const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-bench-'));
    cleanup.add('remove data dir', () => rmSync(dataDir, { recursive: true, force: true }));
    const stack = startStackProcess(
      embeddedStackEnv(dataDir, {
        ...authEnv,
        SECRETS_KEY: secrets.SECRETS_KEY,
        CHAIN_SIGNER_KEY: secrets.CHAIN_SIGNER_KEY,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      }),
    );
    cleanup.add('stop stack', async () => {
      const before = stack.output().length;
      const exit = await stack.stop();
      if (exit.code !== 0 || exit.forced) {
        print(
          `problem: on SIGTERM the stack exited with code ${exit.code} signal ${exit.signal}` +
            `${exit.forced ? ' (SIGKILL)' : ''}, printing ${JSON.stringify(stack.output().slice(before).trim())}`,
        );
      }
    });
    const urls: StackUrls = await stack.urls();
    await waitUntilReady(urls.gateway);
    const startedInSeconds = round(Number(process.hrtime.bigint() - stack.spawnedAt) / 1e9, 1);

    const standalone = await startStandaloneGateway(urls, authEnv, cleanup);
    const internalTokens = await internalTokenSource(secrets.INTERNAL_AUTH_SECRET);
    cleanup.add('stop re-signing internal tokens', () => internalTokens.stop());
    const supergraphPath = path.join(repositoryRoot, 'schema', 'supergraph.graphql');
    const plain = await startPlainGateway(
      withoutSecurityPurpose(
        withRoutingUrls(readFileSync(supergraphPath, 'utf8'), {
          ...Object.fromEntries(
            Object.entries(urls.subgraphs).map(([name, url]) => [name, `${url}/graphql`]),
          ),
        }),
      ),
      internalTokens.current,
    );
    cleanup.add('stop plain gateway', () => plain.stop());
    // (e) signs in once through the standalone gateway it is measured on (again only if its token would
    // expire during a case).
    const user = await userHeaderSource(`${standalone.origin}/graphql`, DEMO_USER.key, DEMO_USER.handle);
    if (user.handle() !== DEMO_USER.handle) {
      throw new Error(
        `signed in with anvil dev account 1 (${user.address()}) as "${user.handle()}", not "${DEMO_USER.handle}"`,
      );
    }
    // The gateway (d) must take (e)'s requests for the user's and (d)'s for anonymous ones.
    const seenAs = {
      signedIn: await viewerHandle(
        `${standalone.origin}/graphql`,
        (await user.headerSource.forSeconds(1)).headers,
      ),
      anonymous: await viewerHandle(`${standalone.origin}/graphql`, {}),
    };
    if (seenAs.signedIn !== DEMO_USER.handle || seenAs.anonymous !== null) {
      throw new Error(
        `the standalone gateway sees the Bearer caller as ${seenAs.signedIn} and the anonymous one as ` +
          `${seenAs.anonymous}`,
      );
    }

    print(
      `(a) learning subgraph direct: ${urls.learning}/graphql, in the stack process, with the gateway's ` +
        'internal token for the anonymous principal (x-symbeon-internal; subgraphs refuse requests without it)',
    );
    print(
      `(b) our gateway in the embedded stack: \`node --import tsx ${STACK_ENTRY}\` (pid ${stack.pid}; the gateway ` +
        `and both subgraphs share one process and thread), NODE_ENV=production, LOG_LEVEL=warn, ready in ` +
        `${startedInSeconds} s`,
    );
    print(
      '(c) plain gateway: new ApolloGateway({ supergraphSdl }) + new ApolloServer({ gateway }) defaults, ' +
        'startStandaloneServer, inside this process (shares its thread with autocannon), ' +
        `NODE_ENV=${process.env.NODE_ENV ?? '(unset)'};`,
    );
    print(
      '    the only non-default setting: buildService → RemoteGraphQLDataSource whose willSendRequest sets ' +
        'x-symbeon-internal (the anonymous internal token, re-signed by a timer in this process), without ' +
        'which the subgraphs answer nothing; the supergraph is loaded with its authenticated/requiresScopes/' +
        'policy @links not marked for SECURITY (as our gateway does; the plain one enforces none of them)',
    );
    print(
      `(d) our gateway in its own process: \`node --import tsx ${GATEWAY_ENTRY}\` (pid ${standalone.process.pid}), ` +
        'SUBGRAPH_URL_* → the stack’s subgraphs, NODE_ENV=production: the same process layout as (c); ' +
        'REDIS_URL unset, so rate-limit counters and the revoked-session list are in its memory',
    );
    print(
      `(e) = (d) with Authorization: Bearer <access token> of "${user.handle()}" (anvil dev account 1, ` +
        `${user.address()}), signed in once through (d) with Sign-In with Ethereum (token valid ` +
        `${round(user.accessTokenSecondsLeft() / 60, 1)} more min); checked: { viewer { handle } } answers ` +
        `"${seenAs.signedIn}" with the token, null without`,
    );

    const targetUrls: Record<TargetName, string> = {
      subgraph: `${urls.learning}/graphql`,
      ours: `${urls.gateway}/graphql`,
      standalone: `${standalone.origin}/graphql`,
      standaloneUser: `${standalone.origin}/graphql`,
      plain: plain.url,
    };
    const credentials: Record<TargetName, HeaderSource> = {
      subgraph: internalTokens.headerSource,
      ours: NO_HEADERS,
      standalone: NO_HEADERS,
      standaloneUser: user.headerSource,
      plain: NO_HEADERS,
    };
    const pids = { stack: stack.pid, standaloneGateway: standalone.process.pid };
    // Every case is checked and warmed before any is measured: the first case must not pay for a cold JIT.
    const bodies: string[] = [];
    for (const { target, query } of CASES) {
      const { headers } = await credentials[target].forSeconds(1);
      const body = await expectedBody(targetUrls[target], QUERIES[query], headers);
      bodies.push(body);
      process.stderr.write(`warming up ${TARGET_LABELS[target]}, ${query} query...\n`);
      if (settings.warmup > 0) {
        await load(
          targetUrls[target],
          QUERIES[query],
          body,
          settings.warmup,
          settings.connections,
          credentials[target],
        );
      }
    }
    await sleep(500);
    const idle = await measureIdleCpu(pids, 3);
    print(
      `idle CPU with no requests in flight (ms/s, subtracted from the CPU columns below): stack ${idle.stack ?? '?'}, ` +
        `standalone gateway ${idle.standaloneGateway ?? '?'}, bench ${idle.bench ?? '?'}`,
    );
    print();

    const results: CaseResult[] = [];
    for (const [index, { target, query }] of CASES.entries()) {
      process.stderr.write(`measuring ${TARGET_LABELS[target]}, ${query} query...\n`);
      results.push(
        await runCase(
          target,
          query,
          targetUrls[target],
          bodies[index]!,
          credentials[target],
          settings,
          pids,
          idle,
        ),
      );
    }
    for (const child of [stack, standalone.process]) {
      const exit = child.exitCode();
      if (exit !== undefined) throw new Error(`${child.entry} exited (${exit}) during the benchmark`);
    }

    print(
      table(
        [
          'query',
          'target',
          'req/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'requests',
          'bad',
          'CPU µs/req: stack',
          '(d) process',
          'bench',
        ],
        results.map((result) => [
          result.query,
          TARGET_LABELS[result.target],
          result.requestsPerSecond,
          result.latencyMs.p50,
          result.latencyMs.p99,
          result.latencyMs.max,
          result.requests,
          result.errors + result.non2xx + result.mismatches,
          result.cpuMicrosPerRequest.stack ?? '-',
          result.target === 'standalone' || result.target === 'standaloneUser'
            ? (result.cpuMicrosPerRequest.standaloneGateway ?? '-')
            : '',
          result.cpuMicrosPerRequest.bench ?? '-',
        ]),
      ),
    );
    print('  bad = connection errors + non-2xx + bodies differing from the checked response');
    const rebuilt = results.filter((result) => result.headersPerRequest);
    if (rebuilt.length > 0) {
      print(
        `  ${rebuilt.map((result) => `${result.query} ${TARGET_LABELS[result.target]}`).join(', ')}: longer ` +
          'than its token lives, so autocannon built every request anew with a fresh token (adds bench CPU)',
      );
    }

    const find = (target: TargetName, query: QueryName) =>
      results.find((result) => result.target === target && result.query === query);
    const rps = (target: TargetName, query: QueryName) => find(target, query)?.requestsPerSecond;
    const throughputRatios = Object.fromEntries(
      (['single', 'cross'] as const).map((query) => [
        query,
        {
          bOverC: ratio(rps('ours', query), rps('plain', query)),
          // The cross query has no direct case (one subgraph cannot answer it): compared with the single one.
          bOverA: ratio(rps('ours', query), rps('subgraph', 'single')),
          dOverC: ratio(rps('standalone', query), rps('plain', query)),
        },
      ]),
    ) as Record<QueryName, { bOverC: number | null; bOverA: number | null; dOverC: number | null }>;

    // CPU per request of each gateway. (d) is measured directly in its own process. In (b) the stack process
    // runs our gateway plus the subgraph work; in (c) only the same subgraph fetches (same query plan), so the
    // difference estimates our gateway inside the stack. The bench process runs autocannon in (b) and
    // autocannon plus the plain gateway in (c), with identical response bodies: the difference is the plain
    // gateway.
    const gatewayCpu = (query: QueryName) => {
      const ours = find('ours', query)?.cpuMicrosPerRequest;
      const own = find('standalone', query)?.cpuMicrosPerRequest;
      const plainCase = find('plain', query)?.cpuMicrosPerRequest;
      const difference = (a: number | null | undefined, b: number | null | undefined) =>
        a !== null && a !== undefined && b !== null && b !== undefined ? a - b : null;
      const oursInStack = difference(ours?.stack, plainCase?.stack);
      const oursOwnProcess = own?.standaloneGateway ?? null;
      const plainGateway = difference(plainCase?.bench, ours?.bench);
      return {
        oursInStack,
        oursOwnProcess,
        plain: plainGateway,
        plainOverOursOwnProcess: ratio(plainGateway ?? undefined, oursOwnProcess ?? undefined),
      };
    };
    const cpu = { single: gatewayCpu('single'), cross: gatewayCpu('cross') };

    print();
    print('throughput ratios (req/s):');
    for (const [query, label] of [
      ['single', 'single-subgraph query'],
      ['cross', 'cross-subgraph query '],
    ] as const) {
      const ratios = throughputRatios[query];
      print(
        `  ${label}  b/c ours / plain = ${ratios.bOverC}x   b/a ours / subgraph direct` +
          `${query === 'cross' ? ' (single query)' : ''} = ${ratios.bOverA}x   ` +
          `d/c ours in own process / plain = ${ratios.dOverC}x`,
      );
    }
    print(
      '  b/c compares layouts as well as gateways: (b) shares one thread with both subgraphs, (c) runs on ' +
        'another thread than the subgraphs; d/c has the same layout on both sides.',
    );
    print('gateway CPU per request (µs; less sensitive than req/s to how the 2 CPUs are shared):');
    for (const query of ['single', 'cross'] as const) {
      const entry = cpu[query];
      print(
        `  ${query.padEnd(6)}  ours in own process (d, measured) ${entry.oursOwnProcess ?? '?'}   ` +
          `ours in the stack (b, estimated) ${entry.oursInStack ?? '?'}   plain (c, estimated) ` +
          `${entry.plain ?? '?'}   plain / ours (d) = ${entry.plainOverOursOwnProcess ?? '?'}x`,
      );
    }
    print(
      '  estimates: ours in the stack = stack CPU (b) − stack CPU (c); plain = bench CPU (c) − bench CPU (b). ' +
        'Latencies have 1 ms resolution.',
    );

    const bodyOf = (target: TargetName, query: QueryName) =>
      bodies[CASES.findIndex((entry) => entry.target === target && entry.query === query)];
    const authOverhead = Object.fromEntries(
      (['single', 'cross'] as const).map((query) => [
        query,
        authenticationOverhead(
          find('standalone', query),
          find('standaloneUser', query),
          bodyOf('standalone', query) === bodyOf('standaloneUser', query),
        ),
      ]),
    ) as Record<QueryName, AuthOverhead>;
    print();
    print(
      `authentication + authorization + rate limiting: (e) signed in vs (d) anonymous, same gateway process ` +
        `and query (target ≤ ${AUTH_OVERHEAD_TARGET * 100} %):`,
    );
    print(
      table(
        ['query', 'measure', 'anonymous (d)', 'signed in (e)', 'overhead', 'target', 'verdict'],
        (['single', 'cross'] as const).flatMap((query) => {
          const entry = authOverhead[query];
          return [
            [
              query,
              'time per request (from req/s)',
              `${entry.anonymous.requestsPerSecond ?? '?'} req/s`,
              `${entry.authenticated.requestsPerSecond ?? '?'} req/s`,
              percent(entry.overhead.timePerRequest),
              `≤ ${AUTH_OVERHEAD_TARGET * 100} %`,
              entry.verdicts.timePerRequest,
            ],
            [
              query,
              'gateway CPU µs/request ((d) process)',
              `${entry.anonymous.gatewayCpuMicrosPerRequest ?? '?'} µs`,
              `${entry.authenticated.gatewayCpuMicrosPerRequest ?? '?'} µs`,
              percent(entry.overhead.gatewayCpu),
              `≤ ${AUTH_OVERHEAD_TARGET * 100} %`,
              entry.verdicts.gatewayCpu,
            ],
            [
              query,
              'subgraphs CPU µs/request (stack process)',
              `${entry.anonymous.subgraphsCpuMicrosPerRequest ?? '?'} µs`,
              `${entry.authenticated.subgraphsCpuMicrosPerRequest ?? '?'} µs`,
              percent(entry.overhead.subgraphsCpu),
              '(info)',
              '',
            ],
          ];
        }),
      ),
    );
    for (const query of ['single', 'cross'] as const) {
      const entry = authOverhead[query];
      print(
        `  ${query}: p50 ${entry.anonymous.p50Ms ?? '?'} → ${entry.authenticated.p50Ms ?? '?'} ms, ` +
          `p99 ${entry.anonymous.p99Ms ?? '?'} → ${entry.authenticated.p99Ms ?? '?'} ms; response body ` +
          (entry.sameBody
            ? 'identical to the anonymous one'
            : 'differs from the anonymous one (checked separately)'),
      );
    }
    print(
      '  overhead = (signed in − anonymous) / anonymous, per query. Time per request at equal concurrency ' +
        `(${settings.connections} connections) = 1 / req/s, so its overhead is req/s (d) ÷ req/s (e) − 1. ` +
        'CPU is the gateway ' +
        'process (d) alone, idle subtracted.',
    );
    print(
      '  what it measures: what a signed-in request costs beyond an anonymous one, i.e. RS256 verification of ' +
        'the access token (JWKS cached) + the session-revocation lookup (in memory here: REDIS_URL unset; a ' +
        'Redis GET in the services profile) + authorization evaluated for a user principal + the per-user ' +
        'rate-limit counter (in memory here) + the internal token for that principal (cached, re-signed ' +
        'every ~40 s). Not the cost of the whole layer against none: anonymous requests still run ' +
        'authentication (no credentials: anonymous), authorization and the per-IP limiter, cheaply.',
    );
    print(
      `  (e) signed in ${user.signIns()} time(s) with Sign-In with Ethereum; the verdicts are reported, never ` +
        'fail the run; at this duration run-to-run noise on req/s can be several %, CPU µs/request is steadier.',
    );

    const stackLogs = stack.output().trim();
    const standaloneLogs = standalone.process.output().trim();
    const file = writeResults('gateway', {
      benchmark: 'gateway',
      at: new Date().toISOString(),
      machine,
      settings: { ...settings, http: 'HTTP/1.1 keep-alive, no pipelining' },
      notes: [
        'load generator shares the machine: autocannon runs in the bench process on the same CPUs as the servers',
        'the plain gateway (c) runs inside the bench process; our gateway (b) shares the stack process with ' +
          'both subgraphs; (d) is our gateway in its own process',
        'inbound de-duplication: off',
        'INTERNAL_AUTH_SECRET and SECRETS_KEY generated per run; RATE_LIMITS budgets unreachable (limiter runs)',
        '(a) sends the anonymous internal token; (c) adds it in buildService (its only non-default setting)',
        '(e) is (d) with the Bearer access token of the demo user signed in with SIWE',
      ],
      queries: QUERIES,
      credentials: Object.fromEntries(
        Object.entries(credentials).map(([target, source]) => [target, source.describe]),
      ),
      targets: {
        ...targetUrls,
        stackPid: stack.pid,
        standaloneGatewayPid: standalone.process.pid,
        stackReadySeconds: startedInSeconds,
      },
      idleCpuMsPerSecond: idle,
      results,
      throughputRatios,
      gatewayCpuMicrosPerRequest: cpu,
      authenticationOverhead: {
        target: AUTH_OVERHEAD_TARGET,
        compares: '(e) signed in vs (d) anonymous, same standalone gateway process',
        user: { handle: user.handle(), address: user.address(), signIns: user.signIns() },
        ...authOverhead,
      },
      stackOutput: stackLogs,
      standaloneGatewayOutput: standaloneLogs,
    });
    print();
    print(`results: ${path.relative(process.cwd(), file)}`);
    for (const [name, logs] of [
      ['stack', stackLogs],
      ['standalone gateway', standaloneLogs],
    ] as const) {
      const warnings = warningLines(logs);
      if (warnings.length === 0) continue;
      print(`the ${name} printed ${warnings.length === 10 ? '10+' : warnings.length} warning/error line(s):`);
      for (const line of warnings) print(`  ${line}`);
    }
  } finally {
    await cleanup.runAll();
  }
}
