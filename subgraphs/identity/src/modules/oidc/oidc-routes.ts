import { createHash } from 'node:crypto';
import { DomainError, sendJson, type RouteHandler } from '@symbeon/kernel';
import { OidcFlowError, type OidcManager } from './oidc-manager.js';

export const OIDC_PREFIX = '/auth/oidc/';
export const OIDC_PROVIDERS_PATH = '/auth/oidc/providers';
export const OIDC_COMPLETE_PATH = '/auth/oidc/complete';
const COOKIE = 'symbeon_oidc';

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

const noStore = { 'cache-control': 'no-store', pragma: 'no-cache', 'referrer-policy': 'no-referrer' };

/** `GET /auth/oidc/providers`: the providers people may sign in with, and where each flow starts. */
export function oidcProvidersRoute(oidc: OidcManager): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'Use GET' }, { allow: 'GET' });
    sendJson(res, 200, { providers: oidc.providers() });
  };
}

/**
 * `GET /auth/oidc/complete`: where a sign-in returns when the app gave no returnTo. The outcome is in the
 * URL fragment, which never reaches a server; the page shows it so a developer can trade the code with
 * `completeOidcSignIn` (the web app passes its own returnTo and does that itself).
 */
export function oidcCompleteRoute(): RouteHandler {
  return async (req, res) => {
    res.writeHead(200, {
      ...noStore,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy':
        "default-src 'none'; script-src 'sha256-" + PAGE_SCRIPT_HASH + "'; style-src 'unsafe-inline'",
    });
    res.end(req.method === 'HEAD' ? undefined : PAGE);
  };
}

/**
 * `GET /auth/oidc/<provider>/start[?returnTo=<url> | ?link=<ticket>]` redirects to the provider;
 * `GET /auth/oidc/<provider>/callback` handles its answer and returns the browser to the app.
 */
export function oidcFlowRoute(oidc: OidcManager, options: { secureCookies: boolean }): RouteHandler {
  const attributes = `Path=${OIDC_PREFIX}; HttpOnly; SameSite=Lax${options.secureCookies ? '; Secure' : ''}`;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://identity.invalid');
    const match = /^\/auth\/oidc\/([a-z0-9-]{1,32})\/(start|callback)$/.exec(url.pathname);
    if (!match)
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `No route for ${url.pathname}` } });
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'Use GET' }, { allow: 'GET' });
    const [, providerId, step] = match as unknown as [string, string, 'start' | 'callback'];
    try {
      if (step === 'start') {
        const returnTo = url.searchParams.get('returnTo') ?? undefined;
        const linkTicket = url.searchParams.get('link') ?? undefined;
        const redirect = await oidc.start(providerId, {
          ...(returnTo ? { returnTo } : {}),
          ...(linkTicket ? { linkTicket } : {}),
        });
        res.writeHead(302, {
          ...noStore,
          location: redirect.location,
          ...(redirect.binding
            ? { 'set-cookie': `${COOKIE}=${redirect.binding}; Max-Age=600; ${attributes}` }
            : {}),
        });
        return void res.end();
      }
      const redirect = await oidc.callback(providerId, url, cookie(req.headers.cookie, COOKIE));
      res.writeHead(302, {
        ...noStore,
        location: redirect.location,
        'set-cookie': `${COOKIE}=; Max-Age=0; ${attributes}`,
      });
      res.end();
    } catch (error) {
      if (error instanceof OidcFlowError || error instanceof DomainError) {
        const status = error.code === 'OIDC_UNKNOWN_PROVIDER' ? 404 : 400;
        return sendJson(res, status, { error: { code: error.code, message: error.message } }, noStore);
      }
      throw error;
    }
  };
}

const PAGE_SCRIPT = `const p=new URLSearchParams(location.hash.slice(1));const o=document.getElementById('o');
if(p.get('oidc_code')){o.textContent='Signed in with '+p.get('provider')+'. One-time code (valid 2 minutes): '+p.get('oidc_code')+'\\nTrade it with: mutation { completeOidcSignIn(code: "…") { ok accessToken refreshToken error { code message } } }';}
else if(p.get('oidc_linked')){o.textContent='Linked your '+p.get('oidc_linked')+' account.';}
else if(p.get('oidc_error')){o.textContent='Sign-in failed: '+p.get('oidc_error');}
history.replaceState(null,'',location.pathname);`;
const PAGE_SCRIPT_HASH = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Symbeon sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}pre{white-space:pre-wrap}</style>
</head><body><h1>Symbeon sign-in</h1><pre id="o">Nothing to show.</pre><script>${PAGE_SCRIPT}</script></body></html>`;
