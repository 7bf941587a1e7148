import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DEFAULT_MEDIA_TYPE,
  InvalidCidError,
  parseContentCid,
  sendJson,
  type ContentStore,
  type Logger,
} from '@symbeon/kernel';

export const IPFS_PREFIX = '/ipfs/';

export interface IpfsRouteOptions {
  store: ContentStore;
  /** Files larger than this are not served (404 CONTENT_TOO_LARGE), whatever range is asked. */
  maxServeBytes: number;
  logger: Logger;
  /** Called first; returns false after answering itself (429). */
  admit?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

/**
 * Media types a browser shows without running anything on our origin. Every other type (HTML, SVG, XML,
 * JavaScript, unknown ones...) is served under a sandboxing CSP: a stored document cannot script the
 * gateway's origin, read its cookies or call its API as the visitor.
 */
const INERT =
  /^(image\/(png|jpeg|gif|webp|avif|bmp)|application\/(pdf|json|octet-stream)|text\/(plain|csv)|(audio|video|font)\/[a-z0-9.+-]+)$/;

const NO_STORE = { 'cache-control': 'no-store' };

function fail(res: ServerResponse, status: number, code: string, message: string) {
  sendJson(res, status, { error: { code, message } }, NO_STORE);
}

/** RFC 9110 If-None-Match: a list of entity tags, weak or strong, or `*`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

type RangeAsked = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * One `bytes=` range (RFC 9110 §14): `a-b`, `a-` or `-n`. Several ranges, other units or a malformed
 * header are ignored (the whole file is sent), as the RFC allows; a range starting past the end is
 * unsatisfiable.
 */
function parseRange(header: string | undefined, size: number): RangeAsked {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * `GET|HEAD /ipfs/<cid>[/]`: files from the content store, on the gateway's origin. Content never changes
 * under a CID, so responses are cacheable forever and the CID is the entity tag. Bodies stream from the
 * store (never buffered); single byte ranges are honoured. The store is asked for what it holds only: an
 * unknown CID is 404, not a network search (the Kubo adapter reads offline).
 */
export function ipfsRoute(options: IpfsRouteOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(
        res,
        405,
        { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET or HEAD' } },
        { allow: 'GET, HEAD' },
      );
    }
    if (options.admit && !(await options.admit(req, res))) return;

    const pathname = (req.url ?? '/').split('?')[0]!;
    const match = /^\/ipfs\/([^/]+)\/?$/.exec(pathname);
    if (!match) return fail(res, 404, 'NOT_FOUND', 'Paths inside content are not served: /ipfs/<cid> only');
    let requested: string;
    try {
      requested = decodeURIComponent(match[1]!);
    } catch {
      return fail(res, 400, 'INVALID_CID', 'The CID is not valid');
    }

    let cid: string | undefined;
    try {
      cid = parseContentCid(requested)?.toString();
    } catch (error) {
      if (error instanceof InvalidCidError) return fail(res, 400, 'INVALID_CID', error.message);
      throw error;
    }
    const unknown = () => fail(res, 404, 'NOT_FOUND', `No content with CID ${requested}`);
    if (!cid) return unknown();

    let stat;
    try {
      stat = await options.store.stat(cid);
    } catch (error) {
      options.logger.error({ err: error, cid }, 'ipfs: the content store failed');
      return fail(res, 503, 'CONTENT_STORE_UNAVAILABLE', 'The content store is unavailable; retry shortly');
    }
    if (!stat) return unknown();
    if (stat.size > options.maxServeBytes) {
      return fail(
        res,
        404,
        'CONTENT_TOO_LARGE',
        `This gateway serves files up to ${options.maxServeBytes} bytes; this one has ${stat.size}`,
      );
    }

    const etag = `"${cid}"`;
    const mediaType = stat.mediaType || DEFAULT_MEDIA_TYPE;
    const essence = mediaType.split(';')[0]!.trim();
    const headers: Record<string, string> = {
      etag,
      'cache-control': 'public, max-age=31536000, immutable',
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      // Public, immutable and credential-free: any site may read it (IPFS content is public by nature).
      'access-control-allow-origin': '*',
    };
    if (!INERT.test(essence)) headers['content-security-policy'] = "default-src 'none'; sandbox";

    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      return void res.end();
    }

    const ifRange = req.headers['if-range'];
    const range =
      ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, stat.size) : undefined;
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${stat.size}` });
      return void res.end();
    }
    const start = range?.start ?? 0;
    const length = range ? range.end - range.start + 1 : stat.size;
    headers['content-type'] = mediaType;
    headers['content-length'] = String(length);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${stat.size}`;
    const status = range ? 206 : 200;

    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      return void res.end();
    }
    let content: AsyncIterable<Uint8Array> | undefined;
    try {
      content = await options.store.get(cid, { offset: start, length });
    } catch (error) {
      options.logger.error({ err: error, cid }, 'ipfs: the content store failed');
      return fail(res, 503, 'CONTENT_STORE_UNAVAILABLE', 'The content store is unavailable; retry shortly');
    }
    if (!content) return unknown();
    res.writeHead(status, headers);
    try {
      await pipeline(Readable.from(content, { objectMode: false }), res);
    } catch (error) {
      // The client went away, or the store failed mid-file: the length already sent cannot be honoured.
      if (!res.destroyed) {
        options.logger.warn({ err: error, cid }, 'ipfs: response ended early');
        res.destroy();
      }
    }
  };
}
