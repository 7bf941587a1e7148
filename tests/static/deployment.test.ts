import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { certificationEnvShape } from '@symbeon/certification';
import { chainEnvShape, parseChainEnv } from '@symbeon/chain';
import { gatewayEnvShape, parseGatewayEnv } from '@symbeon/gateway';
import { identityEnvShape } from '@symbeon/identity';
import { commonEnvShape, EnvError, parseEnv } from '@symbeon/kernel';
import { learningEnvShape } from '@symbeon/learning';
import { paymentsEnvShape } from '@symbeon/payments';
import { stackEnvShape } from '@symbeon/stack';

// There is no Docker engine on the build machines: docker-compose.yml, the Dockerfile and their
// companions are checked here by reading them, against the env shapes the services really parse.
// Every check returns its problems as strings; the last block feeds broken copies to the same checks
// to prove that each of them can fail.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

type Env = Record<string, string>;

/** What the test knows of each service the image can run (keyed by the image's SERVICE). */
interface AppService {
  parse(env: Env): Record<string, unknown>;
  variables: string[];
  portVariable: string;
  hostVariable: string;
  /** Subgraphs run the services profile: PostgreSQL and Redis. */
  subgraph: boolean;
}

const appServices: Record<string, AppService> = {
  identity: {
    parse: (env) => parseEnv(identityEnvShape, env),
    variables: Object.keys(identityEnvShape),
    portVariable: 'IDENTITY_PORT',
    hostVariable: 'IDENTITY_HOST',
    subgraph: true,
  },
  learning: {
    parse: (env) => parseEnv(learningEnvShape, env),
    variables: Object.keys(learningEnvShape),
    portVariable: 'LEARNING_PORT',
    hostVariable: 'LEARNING_HOST',
    subgraph: true,
  },
  chain: {
    // parseChainEnv also requires CHAIN_SIGNER_KEY in production.
    parse: (env) => parseChainEnv(env),
    variables: Object.keys(chainEnvShape),
    portVariable: 'CHAIN_PORT',
    hostVariable: 'CHAIN_HOST',
    subgraph: true,
  },
  certification: {
    parse: (env) => parseEnv(certificationEnvShape, env),
    variables: Object.keys(certificationEnvShape),
    portVariable: 'CERTIFICATION_PORT',
    hostVariable: 'CERTIFICATION_HOST',
    subgraph: true,
  },
  payments: {
    parse: (env) => parseEnv(paymentsEnvShape, env),
    variables: Object.keys(paymentsEnvShape),
    portVariable: 'PAYMENTS_PORT',
    hostVariable: 'PAYMENTS_HOST',
    subgraph: true,
  },
  gateway: {
    // parseGatewayEnv also validates the SUBGRAPH_URL_<NAME> variables.
    parse: (env) => parseGatewayEnv(env),
    variables: Object.keys(gatewayEnvShape),
    portVariable: 'PORT',
    hostVariable: 'GATEWAY_HOST',
    subgraph: false,
  },
};

// ---------------------------------------------------------------------------------------------------------
// Reading the files

interface ComposeBuild {
  context?: string;
  dockerfile?: string;
  args?: Record<string, string | number | null> | string[];
}

interface ComposeService {
  image?: string;
  build?: string | ComposeBuild;
  env_file?: string | Array<string | { path: string; required?: boolean }>;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: Array<string | number | { target?: number | string; published?: number | string }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
}

interface Compose {
  services: Record<string, ComposeService>;
  /** Variables the file interpolates (`${NAME...}`), and those it requires (`${NAME:?...}`). */
  interpolated: Set<string>;
  required: Set<string>;
}

interface EnvFile {
  /** Uncommented `NAME=value` lines: what a copy of the file gives as .env. */
  values: Env;
  /** Every `NAME=` line, commented or not. */
  documented: Set<string>;
}

interface Deployment {
  compose: Compose;
  envExample: EnvFile;
  dockerfile: string;
  dockerignore: string;
  entrypoint: string;
  prometheus: unknown;
  /** Subgraph names of supergraph.yaml. */
  subgraphs: string[];
}

function parseEnvFile(text: string): EnvFile {
  const values: Env = {};
  const documented = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    documented.add(match[2]!);
    if (!match[1]) values[match[2]!] = match[3]!.trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return { values, documented };
}

/** Stand-ins for required secrets whose services check their format. */
const PLACEHOLDERS: Record<string, string> = {
  SECRETS_KEY: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  CHAIN_SIGNER_KEY: `0x${'7'.repeat(64)}`,
};

/** Docker Compose interpolation: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME:+alt}. */
function interpolate(value: unknown, vars: Env, interpolated: Set<string>, required: Set<string>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (
        match,
        braced: string | undefined,
        operator: string | undefined,
        argument: string | undefined,
        bare: string | undefined,
      ) => {
        if (match === '$$') return '$';
        const name = (braced ?? bare)!;
        interpolated.add(name);
        const current = vars[name];
        const isSet = current !== undefined;
        const nonEmpty = current !== undefined && current !== '';
        switch (operator) {
          case ':-':
            return nonEmpty ? current : (argument ?? '');
          case '-':
            return isSet ? current : (argument ?? '');
          case ':?':
          case '?':
            if (current !== undefined && (operator === '?' || current !== '')) return current;
            // Compose refuses to start until the operator sets it; go on as if they had, with a value of
            // the right form where the service checks the form.
            required.add(name);
            return PLACEHOLDERS[name] ?? `placeholder${name.toLowerCase().replace(/_/g, '')}`;
          case ':+':
            return nonEmpty ? (argument ?? '') : '';
          case '+':
            return isSet ? (argument ?? '') : '';
          default:
            return current ?? '';
        }
      },
    );
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, vars, interpolated, required));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, vars, interpolated, required)]),
    );
  }
  return value;
}

/** docker-compose.yml as compose sees it when .env is a copy of .env.example. */
function parseCompose(text: string, envExample: EnvFile): Compose {
  const raw = parse(text, { merge: true }) as { services?: Record<string, ComposeService> } | null;
  const interpolated = new Set<string>();
  const required = new Set<string>();
  const services = interpolate(raw?.services ?? {}, envExample.values, interpolated, required);
  return { services: services as Record<string, ComposeService>, interpolated, required };
}

function loadDeployment(): Deployment {
  const envExample = parseEnvFile(read('.env.example'));
  const supergraph = parse(read('supergraph.yaml')) as { subgraphs?: Record<string, unknown> };
  return {
    compose: parseCompose(read('docker-compose.yml'), envExample),
    envExample,
    dockerfile: read('Dockerfile'),
    dockerignore: read('.dockerignore'),
    entrypoint: read('deploy/docker-entrypoint.sh'),
    prometheus: parse(read('deploy/prometheus.yml')) as unknown,
    subgraphs: Object.keys(supergraph.subgraphs ?? {}),
  };
}

/** Workspace folder -> package.json, from the root package.json's "workspaces" globs. */
function workspaces(): Map<string, { name?: string; scripts?: Record<string, string> }> {
  const patterns = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  const folders = patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(path.join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern],
  );
  return new Map(
    folders
      .filter((folder) => existsSync(path.join(root, folder, 'package.json')))
      .map((folder) => [
        folder,
        JSON.parse(read(`${folder}/package.json`)) as { name?: string; scripts?: Record<string, string> },
      ]),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Compose helpers

function buildOf(service: ComposeService): ComposeBuild | undefined {
  if (service.build === undefined) return undefined;
  return typeof service.build === 'string' ? { context: service.build } : service.build;
}

function buildArgs(build: ComposeBuild): Env {
  const args = build.args ?? {};
  const entries = Array.isArray(args)
    ? args
        .map((item) => item.split('=') as [string, ...string[]])
        .map(([key, ...rest]) => [key, rest.join('=')])
    : Object.entries(args).map(([key, value]) => [key, value === null ? '' : String(value)]);
  return Object.fromEntries(entries) as Env;
}

/** The image's SERVICE for services built from this repository's Dockerfile. */
function serviceArg(service: ComposeService): string | undefined {
  const build = buildOf(service);
  return build ? buildArgs(build).SERVICE : undefined;
}

function dependencies(service: ComposeService): Array<[string, string]> {
  const dependsOn = service.depends_on ?? [];
  return Array.isArray(dependsOn)
    ? dependsOn.map((name) => [name, 'service_started'])
    : Object.entries(dependsOn).map(([name, options]) => [name, options?.condition ?? 'service_started']);
}

/** The environment a container gets: its env_file(s), .env read as .env.example, then `environment:`. */
function containerEnv(service: ComposeService, deployment: Deployment): Env {
  const env: Env = {};
  const envFiles =
    service.env_file === undefined
      ? []
      : Array.isArray(service.env_file)
        ? service.env_file
        : [service.env_file];
  for (const entry of envFiles) {
    const file = typeof entry === 'string' ? entry : entry.path;
    const values =
      path.normalize(file) === '.env' ? deployment.envExample.values : parseEnvFile(read(file)).values;
    Object.assign(env, values);
  }
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    for (const item of environment) {
      const [key, ...rest] = item.split('=');
      if (key && rest.length > 0) env[key] = rest.join('=');
    }
  } else {
    for (const [key, value] of Object.entries(environment)) {
      // `KEY:` with no value passes the host's variable through: nothing the test can rely on.
      if (value !== null) env[key] = String(value);
    }
  }
  return env;
}

function containerPorts(service: ComposeService): string[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return String(port.target ?? '');
    return String(port).split(':').at(-1)!.split('/')[0]!;
  });
}

function hostAndPort(url: string): { host: string; port: string; pathname: string } | undefined {
  try {
    const parsed = new URL(url);
    return { host: parsed.hostname, port: parsed.port, pathname: parsed.pathname };
  } catch {
    return undefined;
  }
}

/** Instructions of the Dockerfile's last stage (the image that runs). */
function dockerInstructions(text: string): Array<{ keyword: string; args: string }> {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

function lastStage<T extends { keyword: string }>(instructions: T[]): T[] {
  const start = instructions.map((instruction) => instruction.keyword).lastIndexOf('FROM');
  return instructions.slice(start);
}

// ---------------------------------------------------------------------------------------------------------
// Checks (each returns its problems)

function checkServices(deployment: Deployment): string[] {
  const problems: string[] = [];
  const { services } = deployment.compose;
  const byFolder = workspaces();
  for (const [name, service] of Object.entries(services)) {
    if (!service.image && !service.build) problems.push(`${name}: neither image nor build`);
    const build = buildOf(service);
    if (build) {
      const context = path.resolve(root, build.context ?? '.');
      const dockerfile = path.resolve(context, build.dockerfile ?? 'Dockerfile');
      if (!existsSync(context)) problems.push(`${name}: build context ${build.context} does not exist`);
      else if (!existsSync(dockerfile))
        problems.push(`${name}: ${build.dockerfile ?? 'Dockerfile'} not found in ${build.context}`);
      const serviceName = buildArgs(build).SERVICE;
      if (!serviceName) problems.push(`${name}: built from the repository without a SERVICE build arg`);
      else {
        // The entrypoint runs node_modules/@symbeon/$SERVICE's start script.
        const workspace = [...byFolder.values()].find(
          (manifest) => manifest.name === `@symbeon/${serviceName}`,
        );
        if (!workspace)
          problems.push(`${name}: SERVICE=${serviceName} but no workspace is named @symbeon/${serviceName}`);
        else if (!workspace.scripts?.start)
          problems.push(`${name}: @symbeon/${serviceName} has no start script`);
        if (!appServices[serviceName]) {
          problems.push(
            `${name}: SERVICE=${serviceName} has no env shape in tests/static/deployment.test.ts`,
          );
        }
      }
    }
    for (const [target, condition] of dependencies(service)) {
      const dependency = services[target];
      if (!dependency) {
        problems.push(`${name}: depends on ${target}, which is not a service`);
        continue;
      }
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) {
        problems.push(`${name}: unknown depends_on condition ${condition}`);
      }
      // Healthy needs a healthcheck: the service's own or its image's (only this repo's Dockerfile is known).
      if (condition === 'service_healthy' && !dependency.healthcheck?.test && !buildOf(dependency)) {
        problems.push(`${name}: waits for ${target} to be healthy, but ${target} has no healthcheck`);
      }
    }
    if (service.healthcheck && !service.healthcheck.disable) {
      const test = service.healthcheck.test;
      const command = Array.isArray(test)
        ? test.filter((part) => part !== 'CMD' && part !== 'CMD-SHELL')
        : [test ?? ''];
      if (!test || command.join('').trim() === '' || (Array.isArray(test) && test[0] === 'NONE')) {
        problems.push(`${name}: healthcheck without a test command`);
      }
      if (Array.isArray(test) && !['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] ?? '')) {
        problems.push(`${name}: healthcheck test must start with CMD or CMD-SHELL`);
      }
    }
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if ((source.startsWith('./') || source.startsWith('../')) && !existsSync(path.resolve(root, source))) {
        problems.push(`${name}: mounts ${source}, which does not exist`);
      }
    }
    if (service.ports && serviceArg(service) !== 'gateway')
      problems.push(`${name}: only the gateway publishes ports`);
  }
  return problems;
}

/** The port and host each app service listens on, from the environment its container gets. */
function listening(deployment: Deployment): Map<string, { port: string; host: string; service: string }> {
  const result = new Map<string, { port: string; host: string; service: string }>();
  for (const [name, service] of Object.entries(deployment.compose.services)) {
    const app = appServices[serviceArg(service) ?? ''];
    if (!app) continue;
    try {
      const env = app.parse(containerEnv(service, deployment));
      result.set(name, {
        port: String(env[app.portVariable]),
        host: String(env[app.hostVariable]),
        service: serviceArg(service)!,
      });
    } catch {
      // checkEnvironments reports it.
    }
  }
  return result;
}

function checkEnvironments(deployment: Deployment): string[] {
  const problems: string[] = [];
  const { services } = deployment.compose;
  const listeners = listening(deployment);
  for (const [name, service] of Object.entries(services)) {
    const serviceName = serviceArg(service);
    const app = appServices[serviceName ?? ''];
    if (!app) continue;
    const env = containerEnv(service, deployment);
    try {
      app.parse(env);
    } catch (error) {
      if (!(error instanceof EnvError)) throw error;
      problems.push(...error.issues.map((issue) => `${name}: ${issue}`));
      continue;
    }
    const self = listeners.get(name)!;
    if (self.host !== '0.0.0.0')
      problems.push(`${name}: ${app.hostVariable}=${self.host}, unreachable from other containers`);
    if (env.NODE_ENV !== 'production')
      problems.push(`${name}: NODE_ENV is ${env.NODE_ENV ?? 'unset'}, not production`);

    if (app.subgraph) {
      // The services profile: both URLs set, pointing at services of this file.
      const expectations: Array<[string, string, string]> = [
        ['DATABASE_URL', 'PostgreSQL', '5432'],
        ['REDIS_URL', 'Redis', '6379'],
      ];
      for (const [variable, server, port] of expectations) {
        const url = env[variable];
        const target = url ? hostAndPort(url) : undefined;
        if (!url || !target) {
          problems.push(`${name}: ${variable} is not set: the container would run the embedded profile`);
          continue;
        }
        if (!services[target.host])
          problems.push(`${name}: ${variable} points at ${target.host}, not a service`);
        if ((target.port || port) !== port)
          problems.push(`${name}: ${variable} uses port ${target.port}, ${server} listens on ${port}`);
        if (!dependencies(service).some(([dependency]) => dependency === target.host)) {
          problems.push(`${name}: uses ${target.host} but does not depend on it`);
        }
      }
      const database = env.DATABASE_URL ? hostAndPort(env.DATABASE_URL) : undefined;
      const postgres = database ? services[database.host] : undefined;
      if (env.DATABASE_URL && postgres) {
        const url = new URL(env.DATABASE_URL);
        const server = containerEnv(postgres, deployment);
        if (decodeURIComponent(url.username) !== (server.POSTGRES_USER ?? 'postgres')) {
          problems.push(`${name}: DATABASE_URL user differs from ${database!.host}'s POSTGRES_USER`);
        }
        if (decodeURIComponent(url.password) !== server.POSTGRES_PASSWORD) {
          problems.push(`${name}: DATABASE_URL password differs from ${database!.host}'s POSTGRES_PASSWORD`);
        }
        if (url.pathname.slice(1) !== (server.POSTGRES_DB ?? server.POSTGRES_USER ?? 'postgres')) {
          problems.push(`${name}: DATABASE_URL database differs from ${database!.host}'s POSTGRES_DB`);
        }
      }
    }

    if (serviceName === 'gateway') {
      // Without SUBGRAPH_URL_<NAME> the gateway would call the supergraph's 127.0.0.1 routing URL.
      for (const subgraph of deployment.subgraphs) {
        const variable = `SUBGRAPH_URL_${subgraph.toUpperCase()}`;
        const url = env[variable];
        const target = url ? hostAndPort(url) : undefined;
        if (!url || !target) {
          problems.push(`${name}: ${variable} is not set`);
          continue;
        }
        const listener = listeners.get(target.host);
        if (!services[target.host])
          problems.push(`${name}: ${variable} points at ${target.host}, not a service`);
        else if (!listener || listener.service !== subgraph) {
          problems.push(
            `${name}: ${variable} points at ${target.host}, which does not run the ${subgraph} subgraph`,
          );
        } else if (target.port !== listener.port) {
          problems.push(
            `${name}: ${variable} uses port ${target.port || '(default)'}, ${target.host} listens on ${listener.port}`,
          );
        }
        if (target.pathname !== '/graphql') problems.push(`${name}: ${variable} must end in /graphql`);
        if (
          !dependencies(service).some(
            ([dependency, condition]) => dependency === target.host && condition === 'service_healthy',
          )
        ) {
          problems.push(`${name}: does not wait for ${target.host} to be healthy`);
        }
      }
      const published = containerPorts(service);
      if (!published.includes(self.port)) {
        problems.push(
          `${name}: publishes container port(s) ${published.join(', ') || 'none'}, listens on ${self.port}`,
        );
      }
    }
  }
  for (const subgraph of deployment.subgraphs) {
    if (!Object.values(services).some((service) => serviceArg(service) === subgraph)) {
      problems.push(`supergraph.yaml's subgraph ${subgraph} has no service in docker-compose.yml`);
    }
  }
  return problems;
}

function checkEnvExample(deployment: Deployment): string[] {
  const { documented, values } = deployment.envExample;
  const variables = new Set([
    ...Object.keys(commonEnvShape),
    ...Object.keys(stackEnvShape),
    ...Object.values(appServices).flatMap((app) => app.variables),
    ...deployment.subgraphs.map((subgraph) => `SUBGRAPH_URL_${subgraph.toUpperCase()}`),
    'SUPERGRAPH_PATH',
    ...deployment.compose.interpolated,
  ]);
  const problems = [...variables]
    .filter((name) => !documented.has(name))
    .map((name) => `.env.example lacks ${name}`);
  for (const name of deployment.compose.required) {
    // Secrets compose insists on: present (uncommented) for the operator to fill in, and never filled here.
    if (!(name in values)) problems.push(`.env.example must list ${name}= (docker-compose.yml requires it)`);
    else if (values[name] !== '') problems.push(`.env.example must leave ${name} empty: it is a secret`);
  }
  return problems;
}

function checkPrometheus(deployment: Deployment): string[] {
  const config = deployment.prometheus as {
    scrape_configs?: Array<{ metrics_path?: string; static_configs?: Array<{ targets?: string[] }> }>;
  } | null;
  const targets = new Set(
    (config?.scrape_configs ?? [])
      .filter((job) => (job.metrics_path ?? '/metrics') === '/metrics')
      .flatMap((job) => (job.static_configs ?? []).flatMap((group) => group.targets ?? [])),
  );
  const problems = [...listening(deployment)]
    .filter(([name, { port }]) => !targets.has(`${name}:${port}`))
    .map(([name, { port }]) => `deploy/prometheus.yml does not scrape ${name}:${port}/metrics`);
  const mounted = Object.values(deployment.compose.services).some((service) =>
    (service.volumes ?? []).some(
      (volume) => typeof volume === 'string' && volume.startsWith('./deploy/prometheus.yml:'),
    ),
  );
  if (!mounted) problems.push('no service mounts ./deploy/prometheus.yml');
  return problems;
}

function checkImage(deployment: Deployment): string[] {
  const problems: string[] = [];
  const instructions = dockerInstructions(deployment.dockerfile);
  const runtime = lastStage(instructions);
  const users = runtime
    .filter((instruction) => instruction.keyword === 'USER')
    .map((instruction) => instruction.args);
  if (users.length === 0) problems.push('Dockerfile: the runtime stage has no USER (it would run as root)');
  else if (['root', '0', '0:0', 'root:root'].includes(users.at(-1)!))
    problems.push('Dockerfile: the last USER is root');

  const healthchecks = runtime.filter((instruction) => instruction.keyword === 'HEALTHCHECK');
  if (healthchecks.length === 0) problems.push('Dockerfile: the runtime stage has no HEALTHCHECK');
  for (const { args } of healthchecks) {
    if (/\bNONE\b/.test(args) || !/\bCMD\b/.test(args))
      problems.push('Dockerfile: HEALTHCHECK has no command');
    if (/\bcurl\b/.test(args)) problems.push('Dockerfile: HEALTHCHECK uses curl, which the slim image lacks');
    if (!/healthcheck|node/.test(args))
      problems.push('Dockerfile: HEALTHCHECK should probe /health with node');
  }
  if (!runtime.some(({ keyword, args }) => keyword === 'ARG' && /^SERVICE\b/.test(args))) {
    problems.push('Dockerfile: no ARG SERVICE in the runtime stage');
  }
  if (!runtime.some(({ keyword, args }) => keyword === 'ENV' && /\bSERVICE=/.test(args))) {
    problems.push('Dockerfile: no ENV SERVICE in the runtime stage');
  }
  const entrypoint = runtime.find((instruction) => instruction.keyword === 'ENTRYPOINT');
  if (!entrypoint?.args.includes('deploy/docker-entrypoint.sh'))
    problems.push('Dockerfile: ENTRYPOINT is not deploy/docker-entrypoint.sh');

  const exposed = runtime
    .filter(({ keyword }) => keyword === 'EXPOSE')
    .flatMap(({ args }) => args.split(/\s+/));
  for (const [name, { port }] of listening(deployment)) {
    if (!exposed.includes(port)) problems.push(`Dockerfile: EXPOSE lacks ${port} (${name})`);
  }

  // Layer caching and a complete install: every workspace's manifest is copied before `npm ci`.
  const install = instructions.findIndex(({ keyword, args }) => keyword === 'RUN' && /\bnpm ci\b/.test(args));
  if (install < 0) problems.push('Dockerfile: no `RUN npm ci`');
  else {
    const stage = lastStage(instructions.slice(0, install + 1));
    const copied = stage
      .filter(({ keyword }) => keyword === 'COPY')
      .flatMap(({ args }) => args.split(/\s+/).slice(0, -1));
    for (const file of [
      'package.json',
      'package-lock.json',
      ...[...workspaces().keys()].map((folder) => `${folder}/package.json`),
    ]) {
      if (!copied.includes(file)) problems.push(`Dockerfile: ${file} is not copied before npm ci`);
    }
  }

  const ignored = deployment.dockerignore.split('\n').map((line) => line.trim());
  for (const pattern of ['.env', '.git', '.data']) {
    if (!ignored.includes(pattern))
      problems.push(`.dockerignore: ${pattern} must be excluded from the build context`);
  }
  if (!ignored.some((line) => /^(\*\*\/)?node_modules\/?$/.test(line)))
    problems.push('.dockerignore: node_modules must be excluded');
  if (ignored.some((line) => /^\/?deploy\/?(\*\*?)?$/.test(line)))
    problems.push('.dockerignore: deploy/ is needed in the image');
  return problems;
}

/** deploy/docker-entrypoint.sh's `case` arms: service name -> [variable, default]. */
function entrypointArms(text: string, functionName: string): Map<string, [string, string]> {
  const body = new RegExp(`${functionName}\\(\\) \\{([\\s\\S]*?)\\n\\}`).exec(text)?.[1] ?? '';
  const arms = new Map<string, [string, string]>();
  for (const match of body.matchAll(/^\s*([a-z0-9_| -]+)\)\s*echo "\$\{([A-Z0-9_]+):-([^}]*)\}"/gm)) {
    for (const name of match[1]!.split('|').map((item) => item.trim()))
      arms.set(name, [match[2]!, match[3]!]);
  }
  return arms;
}

function checkEntrypoint(deployment: Deployment): string[] {
  const problems: string[] = [];
  const ports = entrypointArms(deployment.entrypoint, 'listen_port');
  const hosts = entrypointArms(deployment.entrypoint, 'listen_host');
  for (const [serviceName, app] of Object.entries(appServices)) {
    const defaults = app.parse({});
    const expected: Array<[string, Map<string, [string, string]>, string]> = [
      ['listen_port', ports, app.portVariable],
      ['listen_host', hosts, app.hostVariable],
    ];
    for (const [functionName, arms, variable] of expected) {
      const arm = arms.get(serviceName);
      const fallback = String(defaults[variable]);
      if (!arm) problems.push(`deploy/docker-entrypoint.sh: ${functionName} has no ${serviceName} arm`);
      else if (arm[0] !== variable || arm[1] !== fallback) {
        problems.push(
          `deploy/docker-entrypoint.sh: ${functionName} reads \${${arm[0]}:-${arm[1]}} for ${serviceName}; env.ts has ${variable} (default ${fallback})`,
        );
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------

const deployment = loadDeployment();

describe('deployment files', () => {
  it('docker-compose.yml: services, builds, dependencies, healthchecks, mounts, ports', () => {
    expect(Object.keys(deployment.compose.services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'gateway']),
    );
    expect(checkServices(deployment)).toEqual([]);
  });

  it('each app container gets an environment its env shape accepts, in the services profile', () => {
    expect(listening(deployment).size).toBeGreaterThanOrEqual(Object.keys(appServices).length);
    expect(checkEnvironments(deployment)).toEqual([]);
  });

  it('.env.example lists every variable the services and compose read', () => {
    expect(checkEnvExample(deployment)).toEqual([]);
  });

  it('Prometheus scrapes every app service', () => {
    expect(checkPrometheus(deployment)).toEqual([]);
  });

  it('Dockerfile and .dockerignore: non-root, health-checked, complete install', () => {
    expect(checkImage(deployment)).toEqual([]);
  });

  it('the entrypoint probes the port and host each env.ts listens on', () => {
    expect(checkEntrypoint(deployment)).toEqual([]);
  });
});

describe('the checks catch broken deployments', () => {
  const mutated = (change: (copy: Deployment) => void): Deployment => {
    const copy: Deployment = {
      ...deployment,
      compose: { ...structuredClone(deployment.compose) },
      envExample: structuredClone(deployment.envExample),
    };
    change(copy);
    return copy;
  };
  const environmentOf = (copy: Deployment, name: string) => copy.compose.services[name]!.environment as Env;

  it('a subgraph without DATABASE_URL (embedded profile in a container)', () => {
    const broken = mutated((copy) => delete environmentOf(copy, 'identity').DATABASE_URL);
    expect(checkEnvironments(broken)).toContain(
      'identity: DATABASE_URL is not set: the container would run the embedded profile',
    );
  });

  it('an invalid value for the env shape', () => {
    const broken = mutated((copy) => (environmentOf(copy, 'learning').REDIS_URL = 'http://redis:6379'));
    expect(checkEnvironments(broken).join('\n')).toMatch(/learning: REDIS_URL: must be a redis:\/\/ URL/);
  });

  it('a gateway routing to the wrong port or missing a subgraph', () => {
    const wrongPort = mutated(
      (copy) => (environmentOf(copy, 'gateway').SUBGRAPH_URL_LEARNING = 'http://learning:8008/graphql'),
    );
    expect(checkEnvironments(wrongPort)).toContain(
      'gateway: SUBGRAPH_URL_LEARNING uses port 8008, learning listens on 8007',
    );
    const missing = mutated((copy) => delete environmentOf(copy, 'gateway').SUBGRAPH_URL_IDENTITY);
    expect(checkEnvironments(missing)).toContain('gateway: SUBGRAPH_URL_IDENTITY is not set');
  });

  it('a subgraph bound to loopback', () => {
    const broken = mutated((copy) => delete environmentOf(copy, 'identity').IDENTITY_HOST);
    expect(checkEnvironments(broken)).toContain(
      'identity: IDENTITY_HOST=127.0.0.1, unreachable from other containers',
    );
  });

  it('a dependency on a missing service, a healthcheck without a command, a second published port', () => {
    const broken = mutated((copy) => {
      copy.compose.services.gateway!.depends_on = {
        identity: { condition: 'service_healthy' },
        vault: { condition: 'service_healthy' },
      };
      copy.compose.services.redis!.healthcheck = { test: ['CMD'] };
      copy.compose.services.learning!.ports = ['8007:8007'];
    });
    expect(checkServices(broken)).toEqual(
      expect.arrayContaining([
        'gateway: depends on vault, which is not a service',
        'redis: healthcheck without a test command',
        'learning: only the gateway publishes ports',
      ]),
    );
  });

  it('a build naming no workspace', () => {
    const broken = mutated((copy) => {
      copy.compose.services.learning!.build = { context: '.', args: { SERVICE: 'no-such-service' } };
    });
    expect(checkServices(broken)).toContain(
      'learning: SERVICE=no-such-service but no workspace is named @symbeon/no-such-service',
    );
  });

  it('.env.example missing a variable, or holding a secret', () => {
    const broken = mutated((copy) => {
      copy.envExample.documented.delete('MAX_QUERY_COST');
      copy.envExample.values.POSTGRES_PASSWORD = 'hunter2';
    });
    expect(checkEnvExample(broken)).toEqual(
      expect.arrayContaining([
        '.env.example lacks MAX_QUERY_COST',
        '.env.example must leave POSTGRES_PASSWORD empty: it is a secret',
      ]),
    );
  });

  it('Prometheus missing a service', () => {
    const broken = mutated((copy) => {
      copy.prometheus = {
        scrape_configs: [{ job_name: 'gateway', static_configs: [{ targets: ['gateway:8000'] }] }],
      };
    });
    expect(checkPrometheus(broken)).toEqual(
      expect.arrayContaining(['deploy/prometheus.yml does not scrape identity:8003/metrics']),
    );
  });

  it('a Dockerfile running as root, without HEALTHCHECK, or missing a workspace manifest', () => {
    const broken = mutated((copy) => {
      copy.dockerfile = copy.dockerfile
        .replace(/^USER node$/m, '')
        .replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, '')
        .replace(/^COPY subgraphs\/learning\/package\.json .*$/m, '');
    });
    expect(checkImage(broken)).toEqual(
      expect.arrayContaining([
        'Dockerfile: the runtime stage has no USER (it would run as root)',
        'Dockerfile: the runtime stage has no HEALTHCHECK',
        'Dockerfile: subgraphs/learning/package.json is not copied before npm ci',
      ]),
    );
  });

  it('an entrypoint probing the wrong port', () => {
    const broken = mutated(
      (copy) =>
        (copy.entrypoint = copy.entrypoint.replace('${LEARNING_PORT:-8007}', '${LEARNING_PORT:-8070}')),
    );
    expect(checkEntrypoint(broken)).toEqual([
      'deploy/docker-entrypoint.sh: listen_port reads ${LEARNING_PORT:-8070} for learning; env.ts has LEARNING_PORT (default 8007)',
    ]);
  });
});
