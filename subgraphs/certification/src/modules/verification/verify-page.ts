import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type Logger, type RouteHandler } from '@symbeon/kernel';
import { isUuid } from '../shared/validation.js';
import type { Verification } from './verification-manager.js';

/** Where Certificate.verificationUrl points: `<public origin>/verify/<certificate id>`. */
export const VERIFY_PREFIX = '/verify/';

export interface VerifyPageDeps {
  verify(args: { id: string }): Promise<Verification>;
  /** The certificate's QR code (SVG document) of its verification URL. */
  qrCodeSvg(certificateId: string): Promise<string>;
  programmeName(programmeId: string): Promise<string | undefined>;
  /** The gateway URL of a stored file: /ipfs/<cid>. */
  contentUrl(cid: string): string;
  logger: Logger;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const VERDICT_TEXT: Record<string, string> = {
  VALID: 'Valid certificate',
  REVOKED: 'Revoked',
  EXPIRED: 'Expired',
  INVALID: 'Not valid',
  UNKNOWN: 'Unknown certificate',
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Symbeon</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.5rem} .verdict{padding:.75rem 1rem;border-radius:.5rem;font-weight:600}
.VALID{background:#e6f4ea;color:#0b6b2b} .REVOKED,.INVALID{background:#fde7e9;color:#a1121f}
.EXPIRED,.UNKNOWN{background:#fff4e0;color:#7a4a00}
table{border-collapse:collapse;width:100%;margin:1rem 0} td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
.ok{color:#0b6b2b} .ko{color:#a1121f} code{font-size:.85em;word-break:break-all} .qr svg{width:8rem;height:8rem}
</style>
</head>
<body>
${body}
<p><small>Checked against the blockchain and the content store by Symbeon's public API
(<code>Query.verifyCertificate</code>); anyone can run the same checks.</small></p>
</body>
</html>`;
}

function render(verification: Verification, facts: { programme?: string; qr?: string; links: string }) {
  const { verdict, certificate } = verification;
  const rows = verification.steps
    .map(
      (step) =>
        `<tr><td class="${step.passed ? 'ok' : 'ko'}">${step.passed ? '✔' : '✘'}</td><th>${escape(step.label)}</th><td>${escape(step.detail)}</td></tr>`,
    )
    .join('\n');
  const about = certificate
    ? `<table>
<tr><th>Programme</th><td>${escape(facts.programme ?? certificate.programmeId)}</td></tr>
<tr><th>Holder</th><td><code>${escape(certificate.holderAddress ?? '')}</code></td></tr>
<tr><th>Issued</th><td>${escape(certificate.issuedAt?.toISOString() ?? '')}</td></tr>
<tr><th>Expires</th><td>${escape(certificate.expiresAt?.toISOString() ?? 'never')}</td></tr>
${verification.tokenId ? `<tr><th>Token id</th><td><code>${escape(verification.tokenId)}</code></td></tr>` : ''}
${facts.links}
</table>`
    : '';
  return page(
    VERDICT_TEXT[verdict] ?? verdict,
    `<h1>Certificate verification</h1>
<p class="verdict ${escape(verdict)}">${escape(VERDICT_TEXT[verdict] ?? verdict)}</p>
${about}
<h2>Checks</h2>
<table>${rows}</table>
<p><small>Checked at ${escape(verification.checkedAt.toISOString())}.</small></p>
${facts.qr ? `<div class="qr">${facts.qr}</div>` : ''}`,
  );
}

/**
 * `GET /verify/<certificate id>`: the page behind Certificate.verificationUrl and its QR code, for people (HTML,
 * no script) — or the same verification as JSON for `Accept: application/json`. Runs verifyCertificate:
 * no sign-in, nothing private (the certificate's facts are public on chain). Reached through the gateway's
 * pass-through, which counts it per client address.
 */
export function verifyPageRoute(deps: VerifyPageDeps): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
    }
    const id = decodeURIComponent((req.url ?? '').split('?')[0]!.slice(VERIFY_PREFIX.length));
    const wantsJson = (req.headers.accept ?? '').includes('application/json');
    const headers = {
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      'referrer-policy': 'no-referrer',
    };
    if (!isUuid(id)) {
      if (wantsJson) return sendJson(res, 404, { verdict: 'UNKNOWN', valid: false });
      res.writeHead(404, { ...headers, 'content-type': 'text/html; charset=utf-8' });
      res.end(
        req.method === 'HEAD' ? undefined : page('Unknown certificate', '<h1>Unknown certificate</h1>'),
      );
      return;
    }
    const verification = await deps.verify({ id });
    const status = verification.verdict === 'UNKNOWN' ? 404 : 200;
    if (wantsJson) {
      return sendJson(res, status, {
        verdict: verification.verdict,
        valid: verification.verdict === 'VALID',
        tokenId: verification.tokenId,
        checkedAt: verification.checkedAt.toISOString(),
        steps: verification.steps.map(({ key, label, passed, detail }) => ({ key, label, passed, detail })),
      });
    }
    const certificate = verification.certificate;
    const links = certificate
      ? [
          certificate.metadataCid && ['Metadata', certificate.metadataCid],
          certificate.credentialCid && ['Verifiable Credential', certificate.credentialCid],
        ]
          .filter((entry): entry is [string, string] => Boolean(entry))
          .map(
            ([label, cid]) =>
              `<tr><th>${label}</th><td><a href="${escape(deps.contentUrl(cid))}"><code>${escape(cid)}</code></a></td></tr>`,
          )
          .join('\n')
      : '';
    const html = render(verification, {
      ...(certificate ? { programme: await deps.programmeName(certificate.programmeId) } : {}),
      ...(certificate ? { qr: await deps.qrCodeSvg(certificate.id) } : {}),
      links,
    });
    res.writeHead(status, { ...headers, 'content-type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : html);
  };
}
