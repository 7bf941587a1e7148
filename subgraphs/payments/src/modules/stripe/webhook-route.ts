import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type Logger, type RouteHandler } from '@symbeon/kernel';

/** Providers' webhook bodies are small JSON documents (Stripe's are at most a few hundred KiB). */
export const MAX_WEBHOOK_BYTES = 512 * 1024;

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

class BodyTooLarge extends Error {}

async function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A provider's webhook endpoint (reached through the gateway's pass-through, which keeps the body byte for byte
 * and passes the provider's signature headers): POST only, the raw bytes handed to `handle` — signatures are
 * over the exact bytes, so the body is never parsed and re-serialised before it is verified.
 */
export function webhookRoute(
  name: string,
  handle: (raw: Buffer, headers: IncomingMessage['headers']) => Promise<WebhookAnswer>,
  logger: Logger,
  maxBytes = MAX_WEBHOOK_BYTES,
): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST the event' }, { allow: 'POST' });
    let raw: Buffer;
    try {
      raw = await readRaw(req, maxBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge)
        return sendJson(
          res,
          413,
          { error: `Webhook bodies are limited to ${maxBytes} bytes` },
          { connection: 'close' },
        );
      throw error;
    }
    try {
      const answer = await handle(raw, req.headers);
      sendJson(res, answer.status, answer.body);
    } catch (error) {
      // Not handled: the provider delivers again later; every step is idempotent.
      logger.error({ err: error }, `${name} webhook failed`);
      sendJson(res, 500, { error: 'The event could not be handled now; deliver it again' });
    }
  };
}
