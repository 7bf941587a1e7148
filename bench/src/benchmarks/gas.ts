import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  certificateAnchorAbi,
  certificateAnchorBytecode,
  digestToCid,
  ISSUER_ROLE,
  naiveCertificateAbi,
  naiveCertificateBytecode,
  symbeonCertificateAbi,
  symbeonCertificateBytecode,
} from '@symbeon/contracts';
import { anvilDevAccounts, startAnvil } from '@symbeon/kernel/anvil';
import {
  Contract,
  ContractFactory,
  JsonRpcProvider,
  Wallet,
  type ContractTransactionResponse,
  type InterfaceAbi,
} from 'ethers';
import { describeOptions, parseNumberOptions, type NumberOption } from '../kit/options.js';
import { Cleanup, machineFacts, print, round, table, writeResults } from '../kit/report.js';

const options = {
  batch: { default: 1000, min: 1, description: 'certificates per anchored batch' },
} satisfies Record<string, NumberOption>;

export const gasBenchmark = {
  name: 'gas',
  summary:
    'gas of issuing, revoking, renewing and batch-anchoring certificates vs a naive OpenZeppelin build',
  usage: describeOptions(options),
  run: runGasBenchmark,
};

const TARGETS = { issueGas: 100_000, batchGasPerCertificate: 50 };

/** 32 random bytes with no zero byte: the most expensive calldata a digest or a root can be. */
function digest(): string {
  const bytes = randomBytes(32).map((byte) => byte || 1);
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

/** A fresh address that has never held anything: an issue to it pays for a new balance slot. */
const newHolder = () => `0x${Buffer.from(randomBytes(20).map((byte) => byte || 1)).toString('hex')}`;

interface Row {
  operation: string;
  symbeon: number | null;
  naive: number | null;
  note: string;
}

async function runGasBenchmark(argv: string[]): Promise<void> {
  const settings = parseNumberOptions(argv, options);
  const batchSize = Math.floor(settings.batch);
  const cleanup = new Cleanup();
  try {
    const node = await startAnvil({ port: 0 });
    cleanup.add('stop anvil', () => node.stop());
    const provider = new JsonRpcProvider(node.rpcUrl, undefined, {
      staticNetwork: true,
      pollingInterval: 20,
      cacheTimeout: -1,
    });
    cleanup.add('close provider', () => provider.destroy());
    const admin = new Wallet(anvilDevAccounts[0].privateKey, provider);

    const gasOf = async (sent: Promise<ContractTransactionResponse>) => {
      const receipt = await (await sent).wait();
      if (!receipt || receipt.status !== 1) throw new Error('a measured transaction failed');
      return Number(receipt.gasUsed);
    };
    const deploy = async (abi: InterfaceAbi, bytecode: string) => {
      const deployed = await new ContractFactory(abi, bytecode, admin).deploy(admin.address);
      const receipt = await deployed.deploymentTransaction()!.wait();
      const contract = new Contract(await deployed.getAddress(), abi, admin);
      await gasOf(contract.getFunction('grantRole').send(ISSUER_ROLE, admin.address));
      return { contract, deployGas: Number(receipt!.gasUsed) };
    };
    const call = (contract: Contract, method: string, ...args: unknown[]) =>
      gasOf(contract.getFunction(method).send(...args));

    process.stderr.write('deploying and measuring...\n');
    const symbeon = await deploy(symbeonCertificateAbi, symbeonCertificateBytecode);
    const anchor = await deploy(certificateAnchorAbi, certificateAnchorBytecode);
    const naive = await deploy(naiveCertificateAbi, naiveCertificateBytecode);
    const never = 0;
    const inAYear = Math.floor(Date.now() / 1000) + 365 * 24 * 3600;

    // Symbeon: the token id is the digest.
    const holder = newHolder();
    const first = digest();
    const symbeonIssueNew = await call(symbeon.contract, 'issue', holder, first, inAYear);
    const second = digest();
    const symbeonIssueAgain = await call(symbeon.contract, 'issue', holder, second, inAYear);
    const symbeonIssueNever = await call(symbeon.contract, 'issue', newHolder(), digest(), never);
    const symbeonRenew = await call(symbeon.contract, 'renew', BigInt(first), inAYear + 3600, digest());
    const symbeonRenewAgain = await call(symbeon.contract, 'renew', BigInt(first), inAYear + 7200, digest());
    const symbeonRevoke = await call(symbeon.contract, 'revoke', BigInt(second), 'evidence was forged');

    // Naive: counter ids from 1, the URI stored as a string.
    const naiveHolder = newHolder();
    const uri = (value: string) => `ipfs://${digestToCid(value)}`;
    const naiveFirst = digest();
    const naiveIssueNew = await call(
      naive.contract,
      'issue',
      naiveHolder,
      uri(naiveFirst),
      naiveFirst,
      inAYear,
    );
    const naiveSecond = digest();
    const naiveIssueAgain = await call(
      naive.contract,
      'issue',
      naiveHolder,
      uri(naiveSecond),
      naiveSecond,
      inAYear,
    );
    const naiveIssueNever = await call(
      naive.contract,
      'issue',
      newHolder(),
      uri(naiveSecond),
      digest(),
      never,
    );
    const renewed = digest();
    const naiveRenew = await call(naive.contract, 'renew', 1n, inAYear + 3600, uri(renewed), renewed);
    const again = digest();
    const naiveRenewAgain = await call(naive.contract, 'renew', 1n, inAYear + 7200, uri(again), again);
    const naiveRevoke = await call(naive.contract, 'revoke', 2n);

    // A batch: one transaction whatever the size; its gas does not depend on the tree, only on the root.
    const root = digest();
    const anchorGas = await call(anchor.contract, 'anchorBatch', root, batchSize, digest());
    const revokeInBatchGas = await call(
      anchor.contract,
      'revokeInBatch',
      BigInt(root),
      digest(),
      'diploma withdrawn',
    );
    const perCertificate = round(anchorGas / batchSize, 2);

    const rows: Row[] = [
      { operation: 'issue, new holder', symbeon: symbeonIssueNew, naive: naiveIssueNew, note: 'with expiry' },
      {
        operation: 'issue, holder has one',
        symbeon: symbeonIssueAgain,
        naive: naiveIssueAgain,
        note: 'balance slot already set',
      },
      {
        operation: 'issue, never expires',
        symbeon: symbeonIssueNever,
        naive: naiveIssueNever,
        note: 'new holder, expiresAt 0',
      },
      { operation: 'revoke', symbeon: symbeonRevoke, naive: naiveRevoke, note: 'Symbeon: with a reason' },
      { operation: 'renew, new document', symbeon: symbeonRenew, naive: naiveRenew, note: 'first renewal' },
      { operation: 'renew again', symbeon: symbeonRenewAgain, naive: naiveRenewAgain, note: '' },
      {
        operation: 'deploy',
        symbeon: symbeon.deployGas,
        naive: naive.deployGas,
        note: `CertificateAnchor: ${anchor.deployGas.toLocaleString('en-US')}`,
      },
      {
        operation: `anchor a batch of ${batchSize.toLocaleString('en-US')}, total`,
        symbeon: anchorGas,
        naive: naiveIssueNew * batchSize,
        note: `naive: ${batchSize.toLocaleString('en-US')} issues`,
      },
      {
        operation: 'anchor, per certificate',
        symbeon: perCertificate,
        naive: naiveIssueNew,
        note: 'naive: one issue each',
      },
      { operation: 'revoke in batch', symbeon: revokeInBatchGas, naive: null, note: 'one leaf' },
    ];
    const format = (value: number | null) => (value === null ? '-' : value.toLocaleString('en-US'));
    const ratio = (row: Row) =>
      row.symbeon && row.naive
        ? `${round(row.naive / row.symbeon, row.naive / row.symbeon >= 100 ? 0 : 2)}x`
        : '-';

    print(
      `gas benchmark: SymbeonCertificate + CertificateAnchor vs NaiveCertificate, on anvil (gasUsed of receipts)`,
    );
    print(
      '  naive = contracts/solidity/baseline/NaiveCertificate.sol: ERC721URIStorage + AccessControl, token',
    );
    print('  counter, ipfs:// URI stored as a string, digest / expiry / revoked in mappings of their own');
    print('  digests and roots have no zero byte (the dearest calldata); numbers are deterministic, one run');
    print();
    print(
      table(
        ['operation', 'Symbeon gas', 'naive OZ gas', 'naive / Symbeon', 'note'],
        rows.map((row) => [row.operation, format(row.symbeon), format(row.naive), ratio(row), row.note]),
      ),
    );
    const verdicts = {
      issue: Math.max(symbeonIssueNew, symbeonIssueNever) <= TARGETS.issueGas ? 'PASS' : 'MISS',
      batch: perCertificate <= TARGETS.batchGasPerCertificate ? 'PASS' : 'MISS',
    };
    print();
    print(
      table(
        ['target', 'measured', 'target', 'verdict'],
        [
          [
            'issue (worst case: new holder)',
            format(Math.max(symbeonIssueNew, symbeonIssueNever)),
            `≤ ${format(TARGETS.issueGas)}`,
            verdicts.issue,
          ],
          [
            `batch of ${format(batchSize)}, gas per certificate`,
            format(perCertificate),
            `≤ ${TARGETS.batchGasPerCertificate}`,
            verdicts.batch,
          ],
        ],
      ),
    );

    const file = writeResults('gas', {
      benchmark: 'gas',
      at: new Date().toISOString(),
      machine: machineFacts(),
      settings: { batchSize },
      targets: TARGETS,
      verdicts,
      rows,
    });
    print();
    print(`results: ${path.relative(process.cwd(), file)}`);
  } finally {
    await cleanup.runAll();
  }
}
