import type { Logger, RouteHandler } from '@symbeon/kernel';
import { isUuid } from '../shared/validation.js';
import { INVOICES_PREFIX, type InvoicesManager } from './invoices-manager.js';

/** GET /invoices/<id>.pdf?expires=&sig= — the signed link is the credential (see invoices-manager.ts). */
export function invoicePdfRoute(invoices: InvoicesManager, logger: Logger): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = url.pathname.slice(INVOICES_PREFIX.length).replace(/\.pdf$/, '');
    try {
      const found = isUuid(id)
        ? await invoices.download(id, url.searchParams.get('expires'), url.searchParams.get('sig'))
        : undefined;
      if (!found) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Unknown or expired link');
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/pdf',
        'content-length': String(found.bytes.byteLength),
        'content-disposition': `attachment; filename="${found.invoice.number}.pdf"`,
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
    } catch (error) {
      logger.error({ err: error }, 'invoice download failed');
      if (!res.headersSent) res.writeHead(500).end();
    }
  };
}
