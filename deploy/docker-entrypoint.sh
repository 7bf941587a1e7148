#!/bin/sh
# Entrypoint of the Symbeon image (see Dockerfile). SERVICE names the workspace to run.
#   (no argument)  start it: run its package.json `start` script (tsx src/index.ts) in its folder
#   healthcheck    probe its GET /health with node (the slim image has no curl); the image's HEALTHCHECK
#   anything else  run that command instead, with the same environment (e.g. `sh`)
set -eu

cd "$(dirname "$0")/.."

: "${SERVICE:?SERVICE must name the workspace to run: identity, learning, chain, certification, payments, gateway (or stack)}"

# Where the service listens: the same variables and defaults as its env.ts.
# tests/static/deployment.test.ts checks these lines against the env shapes: keep one line per service.
listen_port() {
  case "$SERVICE" in
    gateway) echo "${PORT:-8000}" ;;
    identity) echo "${IDENTITY_PORT:-8003}" ;;
    learning) echo "${LEARNING_PORT:-8007}" ;;
    chain) echo "${CHAIN_PORT:-8004}" ;;
    certification) echo "${CERTIFICATION_PORT:-8005}" ;;
    payments) echo "${PAYMENTS_PORT:-8006}" ;;
    stack) echo "${PORT:-8000}" ;;
    *) echo "docker-entrypoint: no port known for SERVICE=$SERVICE; add it to deploy/docker-entrypoint.sh" >&2; return 1 ;;
  esac
}
listen_host() {
  case "$SERVICE" in
    gateway | stack) echo "${GATEWAY_HOST:-127.0.0.1}" ;;
    identity) echo "${IDENTITY_HOST:-127.0.0.1}" ;;
    learning) echo "${LEARNING_HOST:-127.0.0.1}" ;;
    chain) echo "${CHAIN_HOST:-127.0.0.1}" ;;
    certification) echo "${CERTIFICATION_HOST:-127.0.0.1}" ;;
    payments) echo "${PAYMENTS_HOST:-127.0.0.1}" ;;
    *) echo 127.0.0.1 ;;
  esac
}

case "${1:-start}" in
  start)
    # Runs the workspace's `start` script as `npm run start -w @symbeon/$SERVICE` would, minus npm: npm
    # relays SIGTERM to the `sh -c` it spawns, which dies without passing it on, so the service would be
    # killed without draining. Here each step execs, and tsx relays the signal to the node it starts.
    workspace="node_modules/@symbeon/$SERVICE"
    if [ ! -f "$workspace/package.json" ]; then
      echo "docker-entrypoint: SERVICE=$SERVICE is not a workspace (no $workspace)" >&2
      exit 1
    fi
    root=$(pwd)
    cd "$workspace"
    cd "$(pwd -P)"
    script=$(node -p "require('./package.json').scripts?.start ?? ''")
    if [ -z "$script" ]; then
      echo "docker-entrypoint: @symbeon/$SERVICE has no start script" >&2
      exit 1
    fi
    PATH="$(pwd)/node_modules/.bin:$root/node_modules/.bin:$PATH"
    export PATH
    exec sh -c "exec $script"
    ;;
  healthcheck)
    port=$(listen_port)
    host=$(listen_host)
    # A wildcard address is reachable on loopback; a specific one is probed where it listens.
    case "$host" in
      0.0.0.0 | '' ) host=127.0.0.1 ;;
      :: | '[::]') host='[::1]' ;;
      *:*) host="[$host]" ;;
    esac
    exec node -e "
      fetch('http://$host:$port/health', { signal: AbortSignal.timeout(4000) }).then(
        (response) => process.exit(response.ok ? 0 : 1),
        (error) => { console.error(String(error)); process.exit(1); },
      );
    "
    ;;
  *)
    exec "$@"
    ;;
esac
