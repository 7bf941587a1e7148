import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Per-request facts every log line carries. Set once at the edge of a request. */
export interface RequestScope {
  requestId: string;
  traceId?: string;
  spanId?: string;
}

const scope = new AsyncLocalStorage<RequestScope>();

export function runInRequestScope<T>(value: RequestScope, fn: () => T): T {
  return scope.run(value, fn);
}

export function currentRequestScope(): RequestScope | undefined {
  return scope.getStore();
}

/**
 * Keys whose values never reach a log line, wherever they appear in the first levels of an object:
 * credentials and tokens. PII stays out by not being logged in the first place.
 */
const REDACT = [
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'apiKey',
  'authorization',
  'cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  '*.cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["x-symbeon-internal"]',
];

export function createLogger(service: string, options: { level?: string } & LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const current = scope.getStore();
      return current ? { requestId: current.requestId, traceId: current.traceId } : {};
    },
    ...options,
  });
}
