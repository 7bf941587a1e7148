import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { Contract, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateAnchorAbi,
  checkDeployment,
  DEFAULT_ADMIN_ROLE,
  deployContracts,
  ISSUER_ROLE,
  paymentReceiverAbi,
  readDeployment,
  symbeonCertificateAbi,
  testUsdcAbi,
  writeDeployment,
  type Deployment,
} from '../src/index.js';
import { startChain, type Chain } from './chain.js';

let chain: Chain;
let deployment: Deployment;
const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-deployment-test-'));
const [deployer, admin, issuerA, issuerB] = anvilDevAccounts;

beforeAll(async () => {
  chain = await startChain();
  deployment = await deployContracts({
    rpcUrl: chain.node.rpcUrl,
    deployerKey: deployer.privateKey,
    admin: admin.address,
    issuers: [issuerA.address, issuerB.address.toLowerCase(), issuerA.address],
    testToken: true,
  });
});

afterAll(async () => {
  await chain?.stop();
  rmSync(folder, { recursive: true, force: true });
});

describe('anvil dev accounts', () => {
  it('are the keys of the addresses they name', () => {
    for (const account of anvilDevAccounts)
      expect(new Wallet(account.privateKey).address).toBe(account.address);
  });
});

describe('deployContracts', () => {
  it('deploys every contract and records where and when', async () => {
    expect(deployment.chainId).toBe(31337);
    expect(deployment.deployer).toBe(deployer.address);
    expect(deployment.admin).toBe(admin.address);
    expect(deployment.issuers).toEqual([issuerA.address, issuerB.address]);
    expect(Date.now() - Date.parse(deployment.deployedAt)).toBeLessThan(60_000);
    const { SymbeonCertificate, CertificateAnchor, PaymentReceiver, TestUSDC } = deployment.contracts;
    for (const record of [SymbeonCertificate, CertificateAnchor, PaymentReceiver!, TestUSDC!]) {
      expect(await chain.provider.getCode(record.address)).not.toBe('0x');
      const receipt = await chain.provider.getTransactionReceipt(record.txHash);
      expect(receipt?.contractAddress).toBe(record.address);
      expect(receipt?.blockNumber).toBe(record.blockNumber);
    }
  });

  it('grants ISSUER_ROLE to the issuers and hands DEFAULT_ADMIN_ROLE from the deployer to the admin', async () => {
    const { SymbeonCertificate, CertificateAnchor, PaymentReceiver } = deployment.contracts;
    const certificate = new Contract(SymbeonCertificate.address, symbeonCertificateAbi, chain.provider);
    const anchor = new Contract(CertificateAnchor.address, certificateAnchorAbi, chain.provider);
    const payments = new Contract(PaymentReceiver!.address, paymentReceiverAbi, chain.provider);
    for (const contract of [certificate, anchor]) {
      expect(await contract.getFunction('hasRole')(ISSUER_ROLE, issuerA.address)).toBe(true);
      expect(await contract.getFunction('hasRole')(ISSUER_ROLE, issuerB.address)).toBe(true);
      expect(await contract.getFunction('hasRole')(ISSUER_ROLE, deployer.address)).toBe(false);
    }
    for (const contract of [certificate, anchor, payments]) {
      expect(await contract.getFunction('hasRole')(DEFAULT_ADMIN_ROLE, admin.address)).toBe(true);
      expect(await contract.getFunction('hasRole')(DEFAULT_ADMIN_ROLE, deployer.address)).toBe(false);
    }
    const usdc = new Contract(deployment.contracts.TestUSDC!.address, testUsdcAbi, chain.provider);
    expect(await usdc.getFunction('owner')()).toBe(admin.address);
    expect(await payments.getFunction('isTokenAllowed')(deployment.contracts.TestUSDC!.address)).toBe(true);

    // An issuer from the record can issue right away.
    const asIssuer = new Contract(
      SymbeonCertificate.address,
      symbeonCertificateAbi,
      new Wallet(issuerA.privateKey, chain.provider),
    );
    const digest = `0x${'ab'.repeat(32)}`;
    await (await asIssuer.getFunction('issue')(anvilDevAccounts[5].address, digest, 0)).wait();
    expect(await certificate.getFunction('ownerOf')(BigInt(digest))).toBe(anvilDevAccounts[5].address);
  });

  it('keeps the deployer as admin when no admin is given, and can skip the payment receiver', async () => {
    const minimal = await deployContracts({
      rpcUrl: chain.node.rpcUrl,
      deployerKey: anvilDevAccounts[6].privateKey,
      paymentReceiver: false,
    });
    expect(minimal.admin).toBe(anvilDevAccounts[6].address);
    expect(minimal.issuers).toEqual([]);
    expect(minimal.contracts.PaymentReceiver).toBeUndefined();
    expect(minimal.contracts.TestUSDC).toBeUndefined();
    const certificate = new Contract(
      minimal.contracts.SymbeonCertificate.address,
      symbeonCertificateAbi,
      chain.provider,
    );
    expect(await certificate.getFunction('hasRole')(DEFAULT_ADMIN_ROLE, anvilDevAccounts[6].address)).toBe(
      true,
    );
  });
});

describe('deployment records', () => {
  it('round-trip through writeDeployment and readDeployment', () => {
    const file = path.join(folder, 'nested', 'deployment.json');
    writeDeployment(file, deployment);
    expect(readDeployment(file)).toEqual(deployment);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(deployment);
  });

  it('name every problem of an invalid record', () => {
    const file = path.join(folder, 'broken.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...deployment,
        chainId: 'one',
        contracts: { ...deployment.contracts, SymbeonCertificate: { address: '0x12', blockNumber: -1 } },
      }),
    );
    expect(() => readDeployment(file)).toThrow(/chainId[\s\S]*contracts\.SymbeonCertificate\.address/);
    expect(() => readDeployment(file)).toThrow(/contracts\.SymbeonCertificate\.txHash/);
    writeFileSync(file, '{ not json');
    expect(() => readDeployment(file)).toThrow(`Cannot read the deployment record ${file}`);
    expect(() => readDeployment(path.join(folder, 'missing.json'))).toThrow(/ENOENT/);
  });

  it('are checked against the chain: chain id, code present, code of the current sources', async () => {
    expect(await checkDeployment(chain.node.rpcUrl, deployment)).toEqual([]);
    const { SymbeonCertificate, CertificateAnchor } = deployment.contracts;
    const swapped: Deployment = {
      ...deployment,
      contracts: {
        ...deployment.contracts,
        SymbeonCertificate: { ...SymbeonCertificate, address: CertificateAnchor.address },
        CertificateAnchor: { ...CertificateAnchor, address: anvilDevAccounts[9].address },
      },
    };
    expect(await checkDeployment(chain.node.rpcUrl, swapped)).toEqual([
      `SymbeonCertificate: the code at ${CertificateAnchor.address} is not what the current sources compile to`,
      `CertificateAnchor: no code at ${anvilDevAccounts[9].address}`,
    ]);
    expect(await checkDeployment(chain.node.rpcUrl, { ...deployment, chainId: 1 })).toEqual([
      'the node is chain 31337, the record is for chain 1',
    ]);
  });
});

describe('scripts/deploy.ts', () => {
  const script = fileURLToPath(new URL('../scripts/deploy.ts', import.meta.url));
  const run = (args: string[], env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });

  it('deploys with the key from DEPLOYER_PRIVATE_KEY, writes the record and never prints the key', async () => {
    const out = path.join(folder, 'cli', 'deployment.json');
    const key = anvilDevAccounts[7].privateKey;
    const { stdout, stderr } = await run(
      ['--rpc-url', chain.node.rpcUrl, '--out', out, '--issuer', issuerA.address],
      {
        DEPLOYER_PRIVATE_KEY: key,
      },
    );
    const record = readDeployment(out);
    expect(record.deployer).toBe(anvilDevAccounts[7].address);
    expect(record.issuers).toEqual([issuerA.address]);
    expect(stdout).toContain(record.contracts.SymbeonCertificate.address);
    expect(`${stdout}${stderr}`).not.toContain(key.slice(2));
  });

  it('refuses to run without the key, and never takes it as an argument', async () => {
    const out = path.join(folder, 'cli', 'never.json');
    const env = { DEPLOYER_PRIVATE_KEY: '' };
    await expect(run(['--rpc-url', chain.node.rpcUrl, '--out', out], env)).rejects.toMatchObject({
      stderr: expect.stringContaining('DEPLOYER_PRIVATE_KEY is not set'),
    });
    await expect(
      run(
        ['--rpc-url', chain.node.rpcUrl, '--out', out, '--private-key', anvilDevAccounts[7].privateKey],
        env,
      ),
    ).rejects.toMatchObject({ stderr: expect.stringContaining("Unknown option '--private-key'") });
  });
});
