/**
 * Deploys the Symbeon contracts and writes the deployment record.
 *
 *   DEPLOYER_PRIVATE_KEY=0x... tsx contracts/scripts/deploy.ts --rpc-url URL --out path.json \
 *     [--admin 0x...] [--issuer 0x...]... [--no-payment-receiver] [--test-token]
 *
 * The key comes from the environment only: a command-line argument would end up in shell history and in
 * the process list. It is never printed.
 */
import { parseArgs } from 'node:util';
import { deployContracts, writeDeployment } from '../src/deployment.js';

const usage =
  'usage: DEPLOYER_PRIVATE_KEY=0x... tsx contracts/scripts/deploy.ts --rpc-url URL --out path.json ' +
  '[--admin ADDRESS] [--issuer ADDRESS]... [--no-payment-receiver] [--test-token]';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'rpc-url': { type: 'string' },
        out: { type: 'string' },
        admin: { type: 'string' },
        issuer: { type: 'string', multiple: true },
        'no-payment-receiver': { type: 'boolean', default: false },
        'test-token': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const rpcUrl = values['rpc-url'];
  const out = values.out;
  if (!rpcUrl || !out) fail(`--rpc-url and --out are required\n${usage}`);
  const deployerKey = process.env.DEPLOYER_PRIVATE_KEY;
  if (!deployerKey) fail(`DEPLOYER_PRIVATE_KEY is not set\n${usage}`);
  if (!/^0x[0-9a-fA-F]{64}$/.test(deployerKey)) {
    fail('DEPLOYER_PRIVATE_KEY must be 0x followed by 64 hex digits (its value is not shown)');
  }

  const deployment = await deployContracts({
    rpcUrl,
    deployerKey,
    ...(values.admin ? { admin: values.admin } : {}),
    issuers: values.issuer ?? [],
    paymentReceiver: !values['no-payment-receiver'],
    testToken: values['test-token'],
  });
  writeDeployment(out, deployment);
  const lines = Object.entries(deployment.contracts).map(
    ([name, contract]) => `  ${name.padEnd(18)} ${contract.address} (block ${contract.blockNumber})`,
  );
  process.stdout.write(
    `Deployed on chain ${deployment.chainId} by ${deployment.deployer}; admin ${deployment.admin}; ` +
      `issuers ${deployment.issuers.join(', ') || 'none'}\n${lines.join('\n')}\nRecord written to ${out}\n`,
  );
}

try {
  await main();
} catch (error) {
  fail(`deploy failed: ${error instanceof Error ? error.message : String(error)}`);
}
