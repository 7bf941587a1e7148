import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anvilDevAccounts } from '@symbeon/kernel/testing';
import { devKeys, signIn, startPublicTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// Merkle-batch issuance through the gateway only: symbeon (ADMIN) creates a free MERKLE_BATCH programme audited
// by alan; ada's and grace's approved requests fill a batch of two (CERTIFICATION_BATCH_MAX_SIZE=2), which the
// platform anchors on the local chain in one transaction (certification → bus → chain → BatchAnchored → ISSUED).
// Anyone verifies each certificate without signing in — by id, or like a Blockcerts verifier from the batch's
// root, the metadata CID and the proof (verifyBatchProof); a proof that does not lead to the root is INVALID.
let stack: TestStack;
let symbeon: SignedIn;
let alan: SignedIn;
let ada: SignedIn;
let grace: SignedIn;

beforeAll(async () => {
  stack = await startPublicTestStack({
    CERTIFICATION_BATCH_MAX_SIZE: '2',
    CERTIFICATION_BATCH_MAX_WAIT_SECONDS: '3600',
  });
  [symbeon, alan, ada, grace] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.grace),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

interface BatchCertificate {
  id: string;
  tokenId: string | null;
  status: string;
  issuanceMode: string;
  metadataCid: string;
  leaf: string;
  proof: string[];
  holder: { address: string };
  batch: {
    id: string;
    root: string;
    onChainId: string;
    size: number;
    status: string;
    manifestCid: string;
    txHash: string;
  };
}

const REQUEST = `query ($id: ID!) {
  certificationRequest(id: $id) {
    status
    certificate { id tokenId status issuanceMode metadataCid leaf proof holder { address }
      batch { id root onChainId size status manifestCid txHash } }
  }
}`;

const VERIFY_FIELDS = 'verdict valid tokenId steps { key passed detail } certificate { id }';

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function requestOf(id: string, who: SignedIn) {
  const seen = await stack.graphql(REQUEST, { id }, who.headers);
  expect(seen.body.errors).toBeUndefined();
  return seen.body.data!.certificationRequest as { status: string; certificate: BatchCertificate | null };
}

/** A request by `who`, submitted (no evidence required), audited, and approved by alan. */
async function approvedRequest(programmeId: string, who: SignedIn): Promise<string> {
  const created = await stack.graphql(
    'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code message } request { id } } }',
    { id: programmeId },
    who.headers,
  );
  expect(created.body.data!.createCertificationRequest).toMatchObject({ ok: true });
  const id = created.body.data!.createCertificationRequest.request.id as string;
  const submitted = await stack.graphql(
    'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
    { id },
    who.headers,
  );
  expect(submitted.body.data!.submitCertificationRequest).toMatchObject({ ok: true });
  await until(
    async () => ((await requestOf(id, who)).status === 'AWAITING_REVIEW' ? true : undefined),
    'review',
  );
  const approved = await stack.graphql(
    'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Fine") { ok error { code message } } }',
    { id },
    alan.headers,
  );
  expect(approved.body.data!.reviewCertificationRequest).toMatchObject({ ok: true });
  return id;
}

describe('Merkle-batch issuance and verification, through the gateway', () => {
  const issued: BatchCertificate[] = [];

  it('issues two approved requests of a MERKLE_BATCH programme as one batch anchored on chain', async () => {
    const created = await stack.graphql(
      `mutation ($input: CreateProgrammeInput!) { createProgramme(input: $input) { ok error { code message } programme { id issuanceMode } } }`,
      {
        input: {
          slug: 'batch-e2e',
          name: 'Batch Certified',
          description: 'Issued in Merkle batches',
          validityDays: 365,
          issuanceMode: 'MERKLE_BATCH',
          auditorIds: [alan.userId],
        },
      },
      symbeon.headers,
    );
    expect(created.body.data!.createProgramme).toMatchObject({
      ok: true,
      programme: { issuanceMode: 'MERKLE_BATCH' },
    });
    const programmeId = created.body.data!.createProgramme.programme.id as string;
    const published = await stack.graphql(
      'mutation ($id: ID!) { publishProgramme(id: $id) { ok error { code message } } }',
      { id: programmeId },
      symbeon.headers,
    );
    expect(published.body.data!.publishProgramme).toMatchObject({ ok: true });

    // Nobody but an administrator closes a batch; with nothing open there is nothing to close.
    const CLOSE =
      'mutation ($id: ID!) { closeCertificateBatch(programmeId: $id) { ok error { code } batch { id } } }';
    const refused = await stack.graphql(CLOSE, { id: programmeId }, ada.headers);
    expect(refused.body.data?.closeCertificateBatch ?? null).toBeNull();
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    const empty = await stack.graphql(CLOSE, { id: programmeId }, symbeon.headers);
    expect(empty.body.data!.closeCertificateBatch).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    const requests = [
      { id: await approvedRequest(programmeId, ada), who: ada, wallet: anvilDevAccounts[1].address },
      { id: await approvedRequest(programmeId, grace), who: grace, wallet: anvilDevAccounts[3].address },
    ];
    for (const request of requests) {
      const seen = await until(async () => {
        const current = await requestOf(request.id, request.who);
        return current.status === 'ISSUED' ? current : undefined;
      }, 'ISSUED');
      issued.push(seen.certificate!);
      expect(seen.certificate).toMatchObject({
        status: 'VALID',
        tokenId: null,
        issuanceMode: 'MERKLE_BATCH',
        holder: { address: request.wallet },
        batch: { size: 2, status: 'ANCHORED' },
      });
    }
    // One batch, one anchoring transaction, each certificate with its own leaf and proof.
    const [first, second] = issued as [BatchCertificate, BatchCertificate];
    expect(second.batch).toEqual(first.batch);
    expect(first.leaf).not.toBe(second.leaf);
    expect(first.proof).toEqual([second.leaf]);
    expect(BigInt(first.batch.root).toString()).toBe(first.batch.onChainId);
    // The manifest is on the gateway's /ipfs route and lists both certificates.
    const manifest = (await (await fetch(`${stack.url}/ipfs/${first.batch.manifestCid}`)).json()) as {
      merkleRoot: string;
      certificates: Array<{ id: string; leaf: string }>;
    };
    expect(manifest.merkleRoot).toBe(first.batch.root);
    expect(manifest.certificates.map((item) => item.id).sort()).toEqual([first.id, second.id].sort());
    // On chain, read over JSON-RPC: the anchoring transaction went to the anchor contract.
    const receipt = await fetch(stack.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getTransactionReceipt',
        params: [first.batch.txHash],
      }),
    });
    const { result } = (await receipt.json()) as {
      result: { status: string; logs: Array<{ topics: string[] }> };
    };
    expect(result.status).toBe('0x1');
    // BatchAnchored(uint256 indexed batchId, ...): the root is the first indexed topic.
    expect(result.logs.some((log) => log.topics[1] === first.batch.root)).toBe(true);
  });

  it('verifies each certificate without signing in: VALID, the Merkle proof checked against the anchored root', async () => {
    for (const certificate of issued) {
      const response = await stack.graphql(
        `query ($id: ID) { verifyCertificate(id: $id) { ${VERIFY_FIELDS} } }`,
        {
          id: certificate.id,
        },
      );
      expect(response.body.errors).toBeUndefined();
      const verification = response.body.data!.verifyCertificate;
      expect(verification).toMatchObject({
        verdict: 'VALID',
        valid: true,
        tokenId: null,
        certificate: { id: certificate.id },
      });
      expect(
        verification.steps.map((step: { key: string; passed: boolean }) => [step.key, step.passed]),
      ).toEqual([
        ['lookup', true],
        ['onChain', true],
        ['integrity', true],
        ['merkleProof', true],
        ['credential', true],
        ['issuer', true],
        ['holder', true],
        ['revocation', true],
        ['expiry', true],
        ['confirmations', true],
      ]);
    }
  });

  it('verifies a certificate file (root, metadata CID, proof) like a Blockcerts verifier; a wrong proof is INVALID', async () => {
    const [first, second] = issued as [BatchCertificate, BatchCertificate];
    const VERIFY_PROOF = `query ($root: String!, $cid: String!, $proof: [String!]!) {
      verifyBatchProof(root: $root, metadataCid: $cid, proof: $proof) { ${VERIFY_FIELDS} } }`;
    const good = await stack.graphql(VERIFY_PROOF, {
      root: first.batch.root,
      cid: first.metadataCid,
      proof: first.proof,
    });
    expect(good.body.errors).toBeUndefined();
    expect(good.body.data!.verifyBatchProof).toMatchObject({
      verdict: 'VALID',
      valid: true,
      certificate: { id: first.id },
    });

    // ada's metadata with a proof that is not hers (her own leaf instead of her sibling's).
    const wrong = await stack.graphql(VERIFY_PROOF, {
      root: first.batch.root,
      cid: first.metadataCid,
      proof: [first.leaf],
    });
    const refused = wrong.body.data!.verifyBatchProof;
    expect(refused).toMatchObject({ verdict: 'INVALID', valid: false });
    const merkle = refused.steps.find((step: { key: string }) => step.key === 'merkleProof');
    expect(merkle).toMatchObject({ passed: false });
    expect(merkle.detail).toContain('does not lead from leaf');
    // grace's certificate presented under ada's proof: also INVALID.
    const swapped = await stack.graphql(VERIFY_PROOF, {
      root: first.batch.root,
      cid: second.metadataCid,
      proof: [first.leaf, first.leaf],
    });
    expect(swapped.body.data!.verifyBatchProof).toMatchObject({ verdict: 'INVALID', valid: false });

    const malformed = await stack.graphql(VERIFY_PROOF, {
      root: first.batch.root,
      cid: first.metadataCid,
      proof: ['0x1234'],
    });
    expect(malformed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
