import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from '@symbeon/kernel';

/** Codes that say nothing a client may see: the error is masked and logged instead. */
const MASKED = new Set(['INTERNAL_SERVER_ERROR', 'DOWNSTREAM_SERVICE_ERROR']);

/**
 * Subgraph and gateway errors reach clients only when they carry a code (BAD_USER_INPUT, NOT_FOUND, ...):
 * anything uncoded is an unexpected failure whose message may leak internals, so the client gets
 * INTERNAL_SERVER_ERROR with the request id to quote, and the log gets the details.
 */
export function createErrorFormatter(logger: Logger, requestIdOf: () => string | undefined) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    const requestId = requestIdOf();
    if (typeof code === 'string' && !MASKED.has(code)) {
      const { stacktrace: _stacktrace, exception: _exception, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error(
      { err: error, path: formatted.path, serviceName: formatted.extensions?.serviceName },
      'masked error',
    );
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...(requestId ? { requestId } : {}) },
    };
  };
}
