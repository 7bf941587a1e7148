import { EnvError } from '@symbeon/kernel';
import { startStack } from './stack.js';

// `npm start`: the whole system in one process.
const began = Date.now();
let stack;
try {
  stack = await startStack();
} catch (error) {
  if (error instanceof EnvError) {
    process.stderr.write(`${error.message}\nSee .env.example for every variable.\n`);
    process.exit(1);
  }
  throw error;
}
const { gateway, identity, learning, chain, certification, payments } = stack;
const seconds = ((Date.now() - began) / 1000).toFixed(1);
process.stdout.write(
  [
    '',
    `Symbeon is up (${stack.profile} profile) in ${seconds} s`,
    `  GraphQL API + Apollo Sandbox  ${gateway.url}/graphql`,
    `  Gateway health / readiness    ${gateway.url}/health  ${gateway.url}/ready`,
    `  Gateway metrics               ${gateway.url}/metrics`,
    `  identity subgraph             ${identity.url}/graphql`,
    `  learning subgraph             ${learning.url}/graphql`,
    `  chain subgraph                ${chain.url}/graphql`,
    `  certification subgraph        ${certification.url}/graphql`,
    `  payments subgraph             ${payments.url}/graphql`,
    `  chain node (JSON-RPC)         ${stack.rpcUrl}`,
    '  Press Ctrl-C to stop.',
    '',
  ].join('\n') + '\n',
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      process.stderr.write('Forced exit.\n');
      process.exit(1);
    }
    stopping = true;
    process.stdout.write('Stopping...\n');
    void stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
