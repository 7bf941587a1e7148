import type { ApolloServerPlugin } from '@apollo/server';

/**
 * Apollo Sandbox, embedded, pointed at this gateway's own endpoints: HTTP for operations and WebSocket
 * (graphql-ws) for subscriptions. The endpoints are derived in the browser from the address it used, so
 * they stay right behind proxies and on any port. The Sandbox script loads from Apollo's CDN: it renders
 * for users online.
 */
export const SANDBOX_SCRIPT =
  'https://embeddable-sandbox.cdn.apollographql.com/_latest/embeddable-sandbox.umd.production.min.js';

export function sandboxLandingPage(options: { initialDocument: string }): ApolloServerPlugin {
  const config = JSON.stringify({ initialDocument: options.initialDocument }).replace(/</g, '\\u003c');
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Symbeon API — Apollo Sandbox</title>
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <style>html, body, #sandbox { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="sandbox"></div>
  <script id="symbeon-sandbox-config" type="application/json">${config}</script>
  <script src="${SANDBOX_SCRIPT}"></script>
  <script>
    (function () {
      var config = JSON.parse(document.getElementById('symbeon-sandbox-config').textContent);
      var http = window.location.origin + '/graphql';
      var ws = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host + '/graphql';
      new window.EmbeddedSandbox({
        target: '#sandbox',
        initialEndpoint: http,
        initialSubscriptionEndpoint: ws,
        endpointIsEditable: false,
        includeCookies: false,
        initialState: { document: config.initialDocument, pollForSchemaUpdates: true },
        runTelemetry: false,
      });
    })();
  </script>
</body>
</html>`;
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}
