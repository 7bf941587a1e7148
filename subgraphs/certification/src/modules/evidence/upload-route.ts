import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type Logger, type RouteHandler } from '@symbeon/kernel';
import type { EvidenceRow } from './evidence-storage.js';
import { UPLOADS_PREFIX, UploadRefusedError, type EvidenceManager } from './evidence-manager.js';

export function evidenceJson(row: EvidenceRow, url: string) {
  return {
    key: row.evidenceKey,
    fileName: row.fileName,
    cid: row.cid,
    sha256: row.sha256,
    size: row.size,
    mediaType: row.mediaType,
    uploadedAt: row.uploadedAt.toISOString(),
    url,
  };
}

/**
 * `PUT /uploads/<token>`: the upload URLs of createEvidenceUpload, reached through the gateway's pass-through
 * (which carries no credentials: the token is the credential). Answers JSON `{ ok, evidence }`, or
 * `{ ok: false, error { code, message } }` with the status of the refusal.
 */
export function evidenceUploadRoute(evidence: EvidenceManager, logger: Logger): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'PUT') {
      return sendJson(
        res,
        405,
        { ok: false, error: { code: 'METHOD_NOT_ALLOWED', message: 'PUT the file' } },
        { allow: 'PUT' },
      );
    }
    const token = (req.url ?? '').split('?')[0]!.slice(UPLOADS_PREFIX.length);
    const declared = req.headers['content-length'];
    const contentLength = declared === undefined ? undefined : Number(declared);
    try {
      const row = await evidence.receiveUpload(token, {
        contentType: req.headers['content-type'],
        contentLength: Number.isSafeInteger(contentLength) ? contentLength : undefined,
        body: req,
      });
      sendJson(res, 200, { ok: true, evidence: evidenceJson(row, evidence.contentUrl(row.cid)) });
    } catch (error) {
      if (!(error instanceof UploadRefusedError)) throw error;
      logger.debug({ status: error.status, code: error.code }, 'evidence upload refused');
      // The client may still be sending: answer, then close rather than read the rest.
      sendJson(
        res,
        error.status,
        { ok: false, error: { code: error.code, message: error.message } },
        req.readableEnded ? {} : { connection: 'close' },
      );
    }
  };
}
