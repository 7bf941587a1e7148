import { createHash } from 'node:crypto';
import { cidToDigest, digestToCid, ISSUER_ROLE } from '@symbeon/contracts';
import { DomainError, ErrorCode, rawLeafCid, type ContentStore, type Logger } from '@symbeon/kernel';
import { getAddress, isError, type EventLog } from 'ethers';
import { holderDid } from '../issuance/issuance-documents.js';
import type { CertificateRow, IssuanceStorage } from '../issuance/issuance-storage.js';
import { isUuid } from '../shared/validation.js';
import type { ChainReader } from './chain-reader.js';

export type Verdict = 'VALID' | 'INVALID' | 'REVOKED' | 'EXPIRED' | 'UNKNOWN';

export interface VerificationStep {
  key: string;
  label: string;
  passed: boolean;
  detail: string;
  evidence: Record<string, unknown> | null;
}

export interface Verification {
  verdict: Verdict;
  tokenId: string | null;
  checkedAt: Date;
  steps: VerificationStep[];
  /** Ours, once the chain confirmed it (null for tokens Symbeon did not issue or is still issuing). */
  certificate: CertificateRow | null;
}

interface OnChainRecord {
  holder: string;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
  contentDigest: string;
}

/** Steps whose failure makes the certificate INVALID (revocation and expiry have their own verdicts). */
const INTEGRITY_STEPS = new Set(['integrity', 'credential', 'issuer', 'holder', 'confirmations']);
const MAX_DOCUMENT_BYTES = 1024 * 1024;

/**
 * A document's bytes, or why there are none: unknown to the store, or refused by it (a store that re-hashes
 * blocks on read, like the embedded one and Kubo, refuses a tampered block instead of serving it).
 */
async function readAll(
  contents: ContentStore,
  cid: string,
): Promise<{ bytes: Buffer; problem?: undefined } | { bytes?: undefined; problem: string }> {
  try {
    const stream = await contents.get(cid);
    if (!stream) return { problem: `${cid} is not in the content store` };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += chunk.byteLength;
      if (size > MAX_DOCUMENT_BYTES) return { problem: `${cid} is larger than a certificate document` };
      chunks.push(Buffer.from(chunk));
    }
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { problem: `the content store cannot serve ${cid} intact: ${(error as Error).message}` };
  }
}

const sha256Hex = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`;

function ipfsCid(link: unknown): string | undefined {
  return typeof link === 'string' && link.startsWith('ipfs://') ? link.slice('ipfs://'.length) : undefined;
}

/**
 * Public verification, the way a Blockcerts verifier works: every check is a step with its evidence, and the
 * verdict follows from them. The chain is read directly (the deployment record's contract, the node's
 * JSON-RPC); the documents are re-hashed from the content store. Our database only says which token a
 * certificate id names and whom we issued it to.
 */
export function createVerificationManager(options: {
  certificates: Pick<IssuanceStorage, 'findByIds' | 'findByTokenIds'>;
  contents: ContentStore;
  chain: ChainReader;
  confirmations: number;
  logger: Logger;
}) {
  const { contents, chain } = options;

  async function issuanceLog(tokenId: string): Promise<EventLog | undefined> {
    const contract = chain.certificate();
    const fromBlock = chain.deployment().contracts.SymbeonCertificate.blockNumber;
    const logs = await contract.queryFilter(contract.filters.CertificateIssued!(tokenId), fromBlock);
    return logs.find((log): log is EventLog => 'args' in log);
  }

  return {
    async verify(args: { id?: string | null; tokenId?: string | null }): Promise<Verification> {
      if (!args.id && !args.tokenId)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give the certificate id or its token id', 'id');
      const checkedAt = new Date();
      const steps: VerificationStep[] = [];
      const step = (
        key: string,
        label: string,
        passed: boolean,
        detail: string,
        evidence: Record<string, unknown> | null = null,
      ) => {
        steps.push({ key, label, passed, detail, evidence });
        return passed;
      };
      const unknown = (tokenId: string | null): Verification => ({
        verdict: 'UNKNOWN',
        tokenId,
        checkedAt,
        steps,
        certificate: null,
      });

      // 1. What the certificate is: ours (by id or token id), or a token id we only find on chain.
      let row: CertificateRow | undefined;
      if (args.id) [row] = isUuid(args.id) ? await options.certificates.findByIds([args.id]) : [];
      else if (/^\d{1,78}$/.test(args.tokenId!))
        [row] = await options.certificates.findByTokenIds([BigInt(args.tokenId!).toString()]);
      const tokenId =
        row?.tokenId ?? (args.id ? null : /^\d{1,78}$/.test(args.tokenId!) ? args.tokenId! : null);
      if (args.id && args.tokenId && row?.tokenId && BigInt(args.tokenId).toString() !== row.tokenId) {
        step('lookup', 'Certificate found', false, 'The id and the token id name different certificates');
        return unknown(row.tokenId);
      }
      if (!tokenId) {
        step(
          'lookup',
          'Certificate found',
          false,
          args.id ? `No certificate with id "${args.id}"` : 'Not a token id',
        );
        return unknown(null);
      }
      step(
        'lookup',
        'Certificate found',
        true,
        row
          ? `Symbeon certificate ${row.id}, token ${tokenId}`
          : `Token ${tokenId} (not issued through Symbeon)`,
        { certificateId: row?.id ?? null, tokenId },
      );

      // 2. The chain's record.
      const contract = chain.certificate();
      const contractAddress = chain.deployment().contracts.SymbeonCertificate.address;
      let record: OnChainRecord;
      try {
        record = (await contract.getFunction('certificate').staticCall(tokenId)) as OnChainRecord;
      } catch (error) {
        if (isError(error, 'CALL_EXCEPTION')) {
          step('onChain', 'Recorded on chain', false, `Contract ${contractAddress} has no token ${tokenId}`, {
            contract: contractAddress,
          });
          return unknown(tokenId);
        }
        throw error;
      }
      const onChainDigest = record.contentDigest;
      step('onChain', 'Recorded on chain', true, `Token ${tokenId} exists on contract ${contractAddress}`, {
        chainId: chain.deployment().chainId,
        contract: contractAddress,
        contentDigest: onChainDigest,
      });

      // 3. Metadata integrity: the stored bytes re-hashed are the digest on chain (so the CID matches).
      const metadataCid = digestToCid(onChainDigest);
      const metadataRead = await readAll(contents, metadataCid);
      const metadataBytes = metadataRead.bytes;
      const computed = metadataBytes ? sha256Hex(metadataBytes) : null;
      const cidMatches = !row?.metadataCid || cidToDigest(row.metadataCid) === onChainDigest;
      step(
        'integrity',
        'Metadata integrity',
        Boolean(computed && computed === onChainDigest && cidMatches),
        metadataRead.problem !== undefined
          ? `No intact metadata: ${metadataRead.problem}`
          : computed !== onChainDigest
            ? `The metadata's sha-256 ${computed} differs from the on-chain digest ${onChainDigest}`
            : !cidMatches
              ? `Our record names metadata ${row?.metadataCid}, the chain ${metadataCid}`
              : `sha-256 of the metadata ${metadataCid} equals the on-chain digest`,
        { metadataCid, computedDigest: computed, onChainDigest },
      );
      let metadata: { credential?: unknown; attributes?: Array<{ trait_type?: unknown; value?: unknown }> } =
        {};
      try {
        if (metadataBytes && computed === onChainDigest)
          metadata = JSON.parse(metadataBytes.toString('utf8')) as typeof metadata;
      } catch {
        metadata = {};
      }

      // 4. The credential the metadata names: its bytes match its CID, it is about this holder and term.
      const credentialCid = ipfsCid(metadata.credential);
      const credentialBytes = credentialCid ? (await readAll(contents, credentialCid)).bytes : undefined;
      const credentialRehash = credentialBytes ? (await rawLeafCid(credentialBytes)).toString() : undefined;
      let subject: string | undefined;
      let validUntil: string | undefined;
      try {
        if (credentialBytes && credentialRehash === credentialCid) {
          const credential = JSON.parse(credentialBytes.toString('utf8')) as {
            credentialSubject?: { id?: string };
            validUntil?: string;
          };
          subject = credential.credentialSubject?.id;
          validUntil = credential.validUntil;
        }
      } catch {
        subject = undefined;
      }
      const expectedSubject = holderDid(chain.deployment().chainId, getAddress(record.holder));
      const expiresAtOnChain = Number(record.expiresAt);
      const termMatches =
        expiresAtOnChain === 0 ||
        (validUntil !== undefined && Date.parse(validUntil) === expiresAtOnChain * 1000);
      step(
        'credential',
        'Verifiable Credential',
        Boolean(
          credentialCid && credentialRehash === credentialCid && subject === expectedSubject && termMatches,
        ),
        !credentialCid
          ? 'The metadata names no credential'
          : credentialRehash !== credentialCid
            ? `The credential ${credentialCid} is missing or its bytes do not match its CID`
            : subject !== expectedSubject
              ? `The credential is about ${subject ?? 'nobody'}, not the holder ${expectedSubject}`
              : !termMatches
                ? `The credential's validUntil ${validUntil} differs from the on-chain expiry`
                : `Credential ${credentialCid} intact, about ${expectedSubject}`,
        { credentialCid: credentialCid ?? null, subject: subject ?? null },
      );

      // 5. Issuer: minted by the configured contract, by an account holding ISSUER_ROLE (at that block).
      const log = await issuanceLog(tokenId);
      const issuer = log ? getAddress(String(log.args.getValue('issuer'))) : undefined;
      const issuerHeldRole =
        log && issuer
          ? ((await contract.getFunction('hasRole').staticCall(ISSUER_ROLE, issuer, {
              blockTag: log.blockNumber,
            })) as boolean)
          : false;
      step(
        'issuer',
        'Issued by Symbeon',
        issuerHeldRole,
        !log
          ? `No CertificateIssued event for token ${tokenId} on ${contractAddress}`
          : issuerHeldRole
            ? `Issued by ${issuer}, holding ISSUER_ROLE on ${contractAddress}, in block ${log.blockNumber}`
            : `Issued by ${issuer}, who did not hold ISSUER_ROLE on ${contractAddress}`,
        {
          contract: contractAddress,
          issuer: issuer ?? null,
          blockNumber: log?.blockNumber ?? null,
          txHash: log?.transactionHash ?? null,
        },
      );

      // 6. Holder: the chain's holder is whom we issued it to.
      const holder = getAddress(record.holder);
      const holderMatches = !row?.holderAddress || row.holderAddress === holder;
      step(
        'holder',
        'Holder',
        holderMatches,
        holderMatches
          ? `Held by ${holder}`
          : `Held by ${holder}, but Symbeon issued it to ${row?.holderAddress}`,
        { holder, expected: row?.holderAddress ?? null },
      );

      // 7. Not revoked. 8. Not expired (chain time: the latest block's timestamp).
      step(
        'revocation',
        'Not revoked',
        !record.revoked,
        record.revoked ? 'Revoked by its issuer' : 'Not revoked',
        {
          revoked: record.revoked,
        },
      );
      const [head, latest] = await Promise.all([
        chain.provider().getBlockNumber(),
        chain.provider().getBlock('latest'),
      ]);
      const now = latest?.timestamp ?? Math.floor(checkedAt.getTime() / 1000);
      const expired = expiresAtOnChain !== 0 && now >= expiresAtOnChain;
      step(
        'expiry',
        'Not expired',
        !expired,
        expiresAtOnChain === 0
          ? 'Never expires'
          : `${expired ? 'Expired' : 'Valid until'} ${new Date(expiresAtOnChain * 1000).toISOString()}`,
        {
          expiresAt: expiresAtOnChain === 0 ? null : new Date(expiresAtOnChain * 1000).toISOString(),
          chainTime: now,
        },
      );

      // 9. Buried deep enough that a reorganisation will not undo it.
      const confirmations = log ? head - log.blockNumber + 1 : 0;
      step(
        'confirmations',
        'Confirmations',
        confirmations >= options.confirmations,
        `${confirmations} confirmation(s), ${options.confirmations} required`,
        { confirmations, required: options.confirmations },
      );

      const failed = new Set(steps.filter((item) => !item.passed).map((item) => item.key));
      const verdict: Verdict = [...failed].some((key) => INTEGRITY_STEPS.has(key))
        ? 'INVALID'
        : failed.has('revocation')
          ? 'REVOKED'
          : failed.has('expiry')
            ? 'EXPIRED'
            : 'VALID';
      return {
        verdict,
        tokenId,
        checkedAt,
        steps,
        certificate: row && row.status !== 'ISSUING' ? row : null,
      };
    },
  };
}

export type VerificationManager = ReturnType<typeof createVerificationManager>;
