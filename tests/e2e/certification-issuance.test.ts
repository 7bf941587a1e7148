import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anvilDevAccounts } from '@symbeon/kernel/testing';
import {
  devKeys,
  minimalPdf,
  signIn,
  startPublicTestStack,
  type SignedIn,
  type TestStack,
} from '../kit/index.js';

// Issuance and public verification through the gateway only: ada's request on the free Foundations
// programme goes through evidence upload, the automated audit and alan's approval; the platform issues it on
// the local chain (certification → bus → chain → CertificateIssued → ISSUED); anyone verifies it without
// signing in; symbeon (ISSUER) revokes it on chain and verification says REVOKED.
let stack: TestStack;
let ada: SignedIn;
let alan: SignedIn;
let symbeon: SignedIn;

beforeAll(async () => {
  stack = await startPublicTestStack();
  [ada, alan, symbeon] = await Promise.all([
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.symbeon),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

const REQUEST = `query ($id: ID!) {
  certificationRequest(id: $id) {
    status
    certificate { id tokenId status holder { address } programme { slug } metadataCid credentialCid metadataUri }
  }
}`;

const VERIFY = `query ($id: ID, $tokenId: String) {
  verifyCertificate(id: $id, tokenId: $tokenId) {
    verdict valid tokenId steps { key name label passed detail } certificate { id status }
  }
}`;

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function statusOf(id: string) {
  const seen = await stack.graphql(REQUEST, { id }, ada.headers);
  expect(seen.body.errors).toBeUndefined();
  return seen.body.data!.certificationRequest as {
    status: string;
    certificate: null | {
      id: string;
      tokenId: string;
      status: string;
      holder: { address: string };
      programme: { slug: string };
      metadataCid: string;
      credentialCid: string;
      metadataUri: string;
    };
  };
}

describe('issuance and public verification, through the gateway', () => {
  let requestId: string;
  let certificate: NonNullable<Awaited<ReturnType<typeof statusOf>>['certificate']>;

  it('issues ada’s approved request on chain: ISSUED, with a certificate held by her wallet', async () => {
    const programme = await stack.graphql('{ programme(slug: "foundations") { id } }');
    const created = await stack.graphql(
      'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok request { id } } }',
      { id: programme.body.data!.programme.id },
      ada.headers,
    );
    requestId = created.body.data!.createCertificationRequest.request.id;
    const portfolio = minimalPdf();
    const ticket = await stack.graphql(
      `mutation ($id: ID!, $size: Int!) { createEvidenceUpload(requestId: $id, evidenceKey: "portfolio",
        fileName: "portfolio.pdf", mediaType: "application/pdf", size: $size) { ok upload { url } } }`,
      { id: requestId, size: portfolio.length },
      ada.headers,
    );
    const put = await fetch(ticket.body.data!.createEvidenceUpload.upload.url, {
      method: 'PUT',
      body: portfolio,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(put.status).toBe(200);
    const submitted = await stack.graphql(
      'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
      { id: requestId },
      ada.headers,
    );
    expect(submitted.body.data!.submitCertificationRequest.ok).toBe(true);
    await until(
      async () => ((await statusOf(requestId)).status === 'AWAITING_REVIEW' ? true : undefined),
      'review',
    );
    const approved = await stack.graphql(
      'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Solid") { ok } }',
      { id: requestId },
      alan.headers,
    );
    expect(approved.body.data!.reviewCertificationRequest.ok).toBe(true);

    const issued = await until(async () => {
      const seen = await statusOf(requestId);
      return seen.status === 'ISSUED' ? seen : undefined;
    }, 'ISSUED');
    certificate = issued.certificate!;
    expect(certificate).toMatchObject({
      status: 'VALID',
      holder: { address: anvilDevAccounts[1].address },
      programme: { slug: 'foundations' },
      metadataUri: `ipfs://${certificate.metadataCid}`,
    });
    // The documents are on the gateway's /ipfs route, and the token id is the metadata's digest.
    const metadata = (await (await fetch(`${stack.url}/ipfs/${certificate.metadataCid}`)).json()) as {
      image: string;
      credential: string;
    };
    expect(metadata.credential).toBe(`ipfs://${certificate.credentialCid}`);
    const credential = (await (await fetch(`${stack.url}/ipfs/${certificate.credentialCid}`)).json()) as {
      type: string[];
      credentialSubject: { id: string };
    };
    expect(credential.type).toEqual(['VerifiableCredential', 'SymbeonCertificate']);
    expect(credential.credentialSubject.id).toBe(`did:pkh:eip155:31337:${anvilDevAccounts[1].address}`);
    const badge = await fetch(`${stack.url}/ipfs/${metadata.image.slice('ipfs://'.length)}`);
    expect(badge.headers.get('content-type')).toBe('image/svg+xml');
    // On chain, read over JSON-RPC like any wallet: ownerOf(tokenId) is ada.
    const chainStatus = await stack.graphql('{ chainStatus { certificateContract } }');
    const contract = chainStatus.body.data!.chainStatus.certificateContract as string;
    const owner = await fetch(stack.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_call',
        // ownerOf(uint256)
        params: [
          { to: contract, data: `0x6352211e${BigInt(certificate.tokenId).toString(16).padStart(64, '0')}` },
          'latest',
        ],
      }),
    });
    const { result } = (await owner.json()) as { result: string };
    expect(result.toLowerCase()).toContain(anvilDevAccounts[1].address.slice(2).toLowerCase());
  });

  it('verifies it without signing in: VALID with every step passed, by id and by token id', async () => {
    const byId = await stack.graphql(VERIFY, { id: certificate.id });
    expect(byId.body.errors).toBeUndefined();
    const verification = byId.body.data!.verifyCertificate;
    expect(verification).toMatchObject({
      verdict: 'VALID',
      valid: true,
      tokenId: certificate.tokenId,
      certificate: { id: certificate.id },
    });
    // `name` is the public name for the step's key.
    expect(verification.steps.every((step: { key: string; name: string }) => step.name === step.key)).toBe(
      true,
    );
    expect(
      verification.steps.map((step: { key: string; passed: boolean }) => [step.key, step.passed]),
    ).toEqual([
      ['lookup', true],
      ['onChain', true],
      ['integrity', true],
      ['credential', true],
      ['issuer', true],
      ['holder', true],
      ['revocation', true],
      ['expiry', true],
      ['confirmations', true],
    ]);
    const byToken = await stack.graphql(VERIFY, { tokenId: certificate.tokenId });
    expect(byToken.body.data!.verifyCertificate.verdict).toBe('VALID');
    const unknown = await stack.graphql(VERIFY, { id: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.body.data!.verifyCertificate).toMatchObject({ verdict: 'UNKNOWN', valid: false });
    const nothing = await stack.graphql(VERIFY, {});
    expect(nothing.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('says REVOKED once an issuer revokes it on chain, and the request follows', async () => {
    const revoked = await stack.graphql(
      `mutation ($tokenId: String!) { revokeOnChainCertificate(input: { tokenId: $tokenId, reason: "issued in error",
        idempotencyKey: "e2e-revoke" }) { ok error { code message } } }`,
      { tokenId: certificate.tokenId },
      symbeon.headers,
    );
    expect(revoked.body.data!.revokeOnChainCertificate).toMatchObject({ ok: true });
    await until(async () => ((await statusOf(requestId)).status === 'REVOKED' ? true : undefined), 'REVOKED');
    expect((await statusOf(requestId)).certificate?.status).toBe('REVOKED');
    const verification = await stack.graphql(VERIFY, { id: certificate.id });
    expect(verification.body.data!.verifyCertificate).toMatchObject({ verdict: 'REVOKED', valid: false });
  });
});
