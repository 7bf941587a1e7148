import { createHash } from 'node:crypto';
import { cidToDigest, digestToCid, ISSUER_ROLE } from '@symbeon/contracts';
import { DomainError, ErrorCode, rawLeafCid, type ContentStore, type Logger } from '@symbeon/kernel';
import { getAddress, isAddress, isError, type Contract, type EventLog } from 'ethers';
import { leafHash, leafValues, proofLeadsToRoot, rootToBatchId } from '../batches/batch-tree.js';
import type { BatchesStorage } from '../batches/batches-storage.js';
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
const INTEGRITY_STEPS = new Set([
  'integrity',
  'merkleProof',
  'credential',
  'issuer',
  'holder',
  'confirmations',
]);
const MAX_DOCUMENT_BYTES = 1024 * 1024;

function verdictOf(steps: readonly VerificationStep[]): Verdict {
  const failed = new Set(steps.filter((item) => !item.passed).map((item) => item.key));
  return [...failed].some((key) => INTEGRITY_STEPS.has(key))
    ? 'INVALID'
    : failed.has('revocation')
      ? 'REVOKED'
      : failed.has('expiry')
        ? 'EXPIRED'
        : 'VALID';
}

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

type StepResult = [passed: boolean, detail: string, evidence: Record<string, unknown> | null];

/**
 * The issuer step: the event (CertificateIssued / BatchAnchored) names its sender, who must have held
 * ISSUER_ROLE on that contract at that block.
 */
async function checkIssuer(
  contract: Contract,
  address: string,
  log: EventLog | undefined,
  what: { verb: 'Issued' | 'Anchored'; missing: string },
): Promise<StepResult> {
  const issuer = log ? getAddress(String(log.args.getValue('issuer'))) : undefined;
  const held =
    log && issuer
      ? ((await contract.getFunction('hasRole').staticCall(ISSUER_ROLE, issuer, {
          blockTag: log.blockNumber,
        })) as boolean)
      : false;
  return [
    held,
    !log
      ? what.missing
      : held
        ? `${what.verb} by ${issuer}, holding ISSUER_ROLE on ${address}, in block ${log.blockNumber}`
        : `${what.verb} by ${issuer}, who did not hold ISSUER_ROLE on ${address}`,
    {
      contract: address,
      issuer: issuer ?? null,
      blockNumber: log?.blockNumber ?? null,
      txHash: log?.transactionHash ?? null,
    },
  ];
}
type Metadata = { credential?: unknown; attributes?: Array<{ trait_type?: unknown; value?: unknown }> };

/** The credential the metadata names: its bytes match its CID, it is about this holder and ends at this expiry. */
async function checkCredential(
  contents: ContentStore,
  metadata: Metadata,
  expectedSubject: string,
  /** Unix seconds; 0: never expires. */
  expiresAt: number,
): Promise<StepResult> {
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
  const termMatches =
    expiresAt === 0 || (validUntil !== undefined && Date.parse(validUntil) === expiresAt * 1000);
  return [
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
  ];
}

/** A trait of the ERC-721 metadata's attributes. */
const trait = (metadata: Metadata, name: string): unknown =>
  metadata.attributes?.find((item) => item.trait_type === name)?.value;

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
/** Far deeper than any batch this service builds (CERTIFICATION_BATCH_MAX_SIZE ≤ 256: 8 levels). */
const MAX_PROOF_LENGTH = 64;

/** What a third party holding a batch certificate presents: the anchored root, the metadata, the proof. */
export interface BatchProofClaim {
  root: string;
  metadataCid: string;
  proof: readonly string[];
}

/**
 * Public verification, the way a Blockcerts verifier works: every check is a step with its evidence, and the
 * verdict follows from them. The chain is read directly (the deployment record's contract, the node's
 * JSON-RPC); the documents are re-hashed from the content store. Our database only says which token a
 * certificate id names and whom we issued it to.
 */
export function createVerificationManager(options: {
  certificates: Pick<IssuanceStorage, 'findByIds' | 'findByTokenIds' | 'findByMetadataCids'>;
  /** The batches of batch certificates (their anchored roots). */
  batches: Pick<BatchesStorage, 'findByIds'>;
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

  async function anchoredLog(batchId: string): Promise<EventLog | undefined> {
    const anchor = chain.anchor();
    const fromBlock = chain.deployment().contracts.CertificateAnchor.blockNumber;
    const logs = await anchor.queryFilter(anchor.filters.BatchAnchored!(batchId), fromBlock);
    return logs.find((log): log is EventLog => 'args' in log);
  }

  /**
   * A batch certificate, Blockcerts style: the leaf is recomputed from the metadata's bytes (its sha-256) and
   * the holder and expiry it states; the proof must lead from that leaf to a root anchored on CertificateAnchor
   * (recomputed here, and checked by the contract's verifyInBatch); then issuer, holder, revocation in the
   * batch, expiry and confirmations as for a single certificate.
   */
  async function verifyBatch(
    claim: BatchProofClaim,
    row: CertificateRow | undefined,
    context: {
      steps: VerificationStep[];
      step: (key: string, label: string, ...result: StepResult) => boolean;
      checkedAt: Date;
    },
  ): Promise<Verification> {
    const { steps, step, checkedAt } = context;
    const root = claim.root.toLowerCase();
    const batchId = rootToBatchId(root);
    const anchor = chain.anchor();
    const anchorAddress = chain.deployment().contracts.CertificateAnchor.address;
    const result = (verdict: Verdict): Verification => ({
      verdict,
      tokenId: null,
      checkedAt,
      steps,
      certificate: row && row.status !== 'ISSUING' ? row : null,
    });

    // 2. The batch on chain: anchored under this root (the batch id is the root).
    let anchored: { issuer: string; anchoredAt: bigint; size: bigint };
    try {
      anchored = (await anchor.getFunction('batch').staticCall(batchId)) as typeof anchored;
    } catch (error) {
      if (isError(error, 'CALL_EXCEPTION')) {
        step('onChain', 'Batch anchored on chain', false, `No batch with root ${root} on ${anchorAddress}`, {
          contract: anchorAddress,
          merkleRoot: root,
        });
        return result('UNKNOWN');
      }
      throw error;
    }
    step(
      'onChain',
      'Batch anchored on chain',
      true,
      `Batch ${root} of ${anchored.size} certificate(s) anchored on ${anchorAddress} at ${new Date(Number(anchored.anchoredAt) * 1000).toISOString()}`,
      {
        chainId: chain.deployment().chainId,
        contract: anchorAddress,
        merkleRoot: root,
        batchId,
        size: Number(anchored.size),
      },
    );

    // 3. Metadata integrity: the document's bytes hash to its CID, and the leaf is recomputed from them.
    let digest: string | undefined;
    try {
      digest = cidToDigest(claim.metadataCid);
    } catch {
      digest = undefined;
    }
    const metadataRead = digest ? await readAll(contents, claim.metadataCid) : undefined;
    const computed = metadataRead?.bytes ? sha256Hex(metadataRead.bytes) : null;
    let metadata: Metadata = {};
    try {
      if (metadataRead?.bytes && computed === digest)
        metadata = JSON.parse(metadataRead.bytes.toString('utf8')) as Metadata;
    } catch {
      metadata = {};
    }
    const holderTrait = trait(metadata, 'holder');
    const expiresTrait = trait(metadata, 'expiresAt');
    const holder =
      typeof holderTrait === 'string' && isAddress(holderTrait) ? getAddress(holderTrait) : undefined;
    const expiresAt =
      typeof expiresTrait === 'number' && Number.isSafeInteger(expiresTrait) ? expiresTrait : undefined;
    const values =
      digest && holder && expiresAt !== undefined
        ? leafValues(holder, claim.metadataCid, expiresAt ? new Date(expiresAt * 1000) : null)
        : undefined;
    const leaf = values ? leafHash(values) : undefined;
    const matchesRecord = !row || (row.metadataCid === claim.metadataCid && (!row.leaf || row.leaf === leaf));
    step(
      'integrity',
      'Metadata integrity',
      Boolean(computed && computed === digest && leaf && matchesRecord),
      !digest
        ? `${claim.metadataCid} is not a certificate metadata CID (CIDv1, raw, sha2-256)`
        : metadataRead?.problem !== undefined
          ? `No intact metadata: ${metadataRead.problem}`
          : computed !== digest
            ? `The metadata's sha-256 ${computed} differs from its CID's digest ${digest}`
            : !leaf
              ? 'The metadata does not state a holder and an expiry: no leaf to check'
              : !matchesRecord
                ? `Our record of certificate ${row?.id} names another leaf or metadata`
                : `sha-256 of the metadata ${claim.metadataCid} is ${digest}; leaf ${leaf} (holder, digest, expiry)`,
      { metadataCid: claim.metadataCid, computedDigest: computed, leaf: leaf ?? null },
    );

    // Revocation in the batch (read before the proof: the contract's verifyInBatch is false for revoked leaves).
    const revoked = leaf
      ? ((await anchor.getFunction('isRevokedInBatch').staticCall(batchId, leaf)) as boolean)
      : false;

    // 4. The Merkle proof from the leaf to the anchored root: recomputed here, and by the contract.
    const proofWellFormed =
      claim.proof.length <= MAX_PROOF_LENGTH && claim.proof.every((node) => BYTES32.test(node));
    const recomputed = Boolean(values && proofWellFormed && proofLeadsToRoot(root, values, claim.proof));
    const contractSays =
      leaf && proofWellFormed && !revoked
        ? ((await anchor.getFunction('verifyInBatch').staticCall(batchId, leaf, [...claim.proof])) as boolean)
        : null;
    step(
      'merkleProof',
      'Merkle proof',
      recomputed && contractSays !== false,
      !leaf
        ? 'No leaf: the metadata could not be read'
        : !proofWellFormed
          ? 'The proof is not a list of 32-byte hex values'
          : !recomputed
            ? `The proof does not lead from leaf ${leaf} to the anchored root ${root}`
            : contractSays === false
              ? `CertificateAnchor.verifyInBatch refuses leaf ${leaf} with this proof`
              : `The proof (${claim.proof.length} node(s)) leads from leaf ${leaf} to the anchored root${contractSays ? ', confirmed by CertificateAnchor.verifyInBatch' : ''}`,
      {
        merkleRoot: root,
        leaf: leaf ?? null,
        proof: [...claim.proof],
        recomputed,
        contractVerified: contractSays,
      },
    );

    // 5. The credential the metadata names.
    const expectedSubject = holder ? holderDid(chain.deployment().chainId, holder) : 'nobody';
    step(
      'credential',
      'Verifiable Credential',
      ...(await checkCredential(contents, metadata, expectedSubject, expiresAt ?? 0)),
    );

    // 6. Issuer: anchored on the configured contract by an account holding ISSUER_ROLE there (at that block).
    const log = await anchoredLog(batchId);
    step(
      'issuer',
      'Issued by Symbeon',
      ...(await checkIssuer(anchor, anchorAddress, log, {
        verb: 'Anchored',
        missing: `No BatchAnchored event for batch ${root} on ${anchorAddress}`,
      })),
    );

    // 7. Holder: the leaf's holder is whom Symbeon issued it to.
    const holderMatches = Boolean(holder) && (!row?.holderAddress || row.holderAddress === holder);
    step(
      'holder',
      'Holder',
      holderMatches,
      !holder
        ? 'The metadata names no holder'
        : holderMatches
          ? `Held by ${holder}`
          : `The leaf names ${holder}, but Symbeon issued it to ${row?.holderAddress}`,
      { holder: holder ?? null, expected: row?.holderAddress ?? null },
    );

    // 8. Not revoked in its batch. 9. Not expired (chain time).
    step(
      'revocation',
      'Not revoked',
      !revoked,
      revoked ? 'Revoked in its batch by its issuer' : 'Not revoked',
      {
        revoked,
        merkleRoot: root,
        leaf: leaf ?? null,
      },
    );
    const [head, latest] = await Promise.all([
      chain.provider().getBlockNumber(),
      chain.provider().getBlock('latest'),
    ]);
    const now = latest?.timestamp ?? Math.floor(checkedAt.getTime() / 1000);
    const expired = Boolean(expiresAt) && now >= expiresAt!;
    step(
      'expiry',
      'Not expired',
      !expired,
      !expiresAt
        ? 'Never expires'
        : `${expired ? 'Expired' : 'Valid until'} ${new Date(expiresAt * 1000).toISOString()}`,
      { expiresAt: expiresAt ? new Date(expiresAt * 1000).toISOString() : null, chainTime: now },
    );

    // 10. The anchor buried deep enough.
    const confirmations = log ? head - log.blockNumber + 1 : 0;
    step(
      'confirmations',
      'Confirmations',
      confirmations >= options.confirmations,
      `${confirmations} confirmation(s), ${options.confirmations} required`,
      { confirmations, required: options.confirmations },
    );
    return result(verdictOf(steps));
  }

  return {
    /**
     * A batch certificate as a third party holds it (no Symbeon id needed): the anchored Merkle root, the
     * metadata's CID and the proof. Malformed input is BAD_USER_INPUT; a proof that does not lead to the root
     * is a verification with the merkleProof step failed (INVALID).
     */
    async verifyBatchProof(claim: BatchProofClaim): Promise<Verification> {
      if (!BYTES32.test(claim.root))
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'root is not 32 bytes of hex (0x…)', 'root');
      if (!/^[a-z0-9]{1,200}$/i.test(claim.metadataCid))
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'metadataCid is not a CID', 'metadataCid');
      if (claim.proof.length > MAX_PROOF_LENGTH || !claim.proof.every((node) => BYTES32.test(node)))
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `proof is a list of at most ${MAX_PROOF_LENGTH} 32-byte hex values`,
          'proof',
        );
      const checkedAt = new Date();
      const steps: VerificationStep[] = [];
      const step = (key: string, label: string, ...[passed, detail, evidence]: StepResult) => {
        steps.push({ key, label, passed, detail, evidence });
        return passed;
      };
      const [row] = await options.certificates.findByMetadataCids([claim.metadataCid]);
      const [batch] = row?.batchId ? await options.batches.findByIds([row.batchId]) : [];
      const ours = row && batch?.merkleRoot === claim.root.toLowerCase() ? row : undefined;
      step(
        'lookup',
        'Certificate found',
        true,
        ours
          ? `Symbeon certificate ${ours.id}, in Merkle batch ${ours.batchId}`
          : 'Checked from the proof alone',
        { certificateId: ours?.id ?? null, merkleRoot: claim.root.toLowerCase() },
      );
      return verifyBatch(claim, ours, { steps, step, checkedAt });
    },

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
      if (row?.batchId && row.metadataCid) {
        const [batch] = await options.batches.findByIds([row.batchId]);
        step(
          'lookup',
          'Certificate found',
          true,
          `Symbeon certificate ${row.id}, in Merkle batch ${row.batchId}`,
          {
            certificateId: row.id,
            batchId: row.batchId,
            merkleRoot: batch?.merkleRoot ?? null,
          },
        );
        if (!batch?.merkleRoot) {
          step('onChain', 'Batch anchored on chain', false, 'Its batch is not closed yet: nothing anchored');
          return { ...unknown(null), certificate: null };
        }
        // Our record gives the root and the proof; the leaf is recomputed from the metadata document itself.
        return verifyBatch(
          { root: batch.merkleRoot, metadataCid: row.metadataCid, proof: row.proof ?? [] },
          row,
          {
            steps,
            step,
            checkedAt,
          },
        );
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
      let metadata: Metadata = {};
      try {
        if (metadataBytes && computed === onChainDigest)
          metadata = JSON.parse(metadataBytes.toString('utf8')) as typeof metadata;
      } catch {
        metadata = {};
      }

      // 4. The credential the metadata names: its bytes match its CID, it is about this holder and term.
      const expectedSubject = holderDid(chain.deployment().chainId, getAddress(record.holder));
      const expiresAtOnChain = Number(record.expiresAt);
      step(
        'credential',
        'Verifiable Credential',
        ...(await checkCredential(contents, metadata, expectedSubject, expiresAtOnChain)),
      );

      // 5. Issuer: minted by the configured contract, by an account holding ISSUER_ROLE (at that block).
      const log = await issuanceLog(tokenId);
      step(
        'issuer',
        'Issued by Symbeon',
        ...(await checkIssuer(contract, contractAddress, log, {
          verb: 'Issued',
          missing: `No CertificateIssued event for token ${tokenId} on ${contractAddress}`,
        })),
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

      return {
        verdict: verdictOf(steps),
        tokenId,
        checkedAt,
        steps,
        certificate: row && row.status !== 'ISSUING' ? row : null,
      };
    },
  };
}

export type VerificationManager = ReturnType<typeof createVerificationManager>;
