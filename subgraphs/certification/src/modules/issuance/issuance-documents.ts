/**
 * The documents a certificate is made of, built from the facts the issuance module decided: an SVG badge,
 * a W3C Verifiable Credential 2.0 and the ERC-721 metadata JSON that names both. The metadata is the root:
 * its CID's sha-256 digest is the on-chain content digest (and token id), so it commits to the badge and the
 * credential through their CIDs. Pure functions: same facts, same bytes.
 */

export interface CertificateFacts {
  certificateId: string;
  requestId: string;
  programme: { id: string; slug: string; name: string; description: string };
  /** EIP-55 address of the holder's wallet. */
  holderAddress: string;
  chainId: number;
  /** Whole seconds: the chain stores Unix seconds. */
  issuedAt: Date;
  expiresAt: Date;
  /** The automated audit's report on IPFS, when the request has one. */
  auditReportCid: string | null;
  issuer: { name: string; url: string };
}

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char]!,
  );

const day = (date: Date) => date.toISOString().slice(0, 10);
/** XML Schema dateTime without milliseconds (what VC validFrom/validUntil and most wallets expect). */
const seconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export const holderDid = (chainId: number, address: string) => `did:pkh:eip155:${chainId}:${address}`;

/** A self-contained badge (no scripts, no external references: served from IPFS as is). */
export function badgeSvg(facts: CertificateFacts): string {
  const name = escapeXml(facts.programme.name.slice(0, 60));
  const holder = `${facts.holderAddress.slice(0, 6)}…${facts.holderAddress.slice(-4)}`;
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400" role="img"',
    ` aria-label="${escapeXml(facts.issuer.name)} certificate: ${name}">`,
    '<rect width="400" height="400" rx="32" fill="#0f172a"/>',
    '<circle cx="200" cy="150" r="80" fill="none" stroke="#38bdf8" stroke-width="10"/>',
    '<path d="M165 150l25 25 45-50" fill="none" stroke="#38bdf8" stroke-width="12" stroke-linecap="round" stroke-linejoin="round"/>',
    `<text x="200" y="270" text-anchor="middle" font-family="sans-serif" font-size="22" fill="#f8fafc">${name}</text>`,
    `<text x="200" y="305" text-anchor="middle" font-family="monospace" font-size="14" fill="#94a3b8">${escapeXml(holder)}</text>`,
    `<text x="200" y="335" text-anchor="middle" font-family="sans-serif" font-size="13" fill="#94a3b8">${day(facts.issuedAt)} – ${day(facts.expiresAt)}</text>`,
    `<text x="200" y="370" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#64748b">${escapeXml(facts.issuer.name)}</text>`,
    '</svg>',
    '',
  ].join('');
}

/** W3C Verifiable Credentials Data Model 2.0 (unsecured: its integrity is the chain's digest of the metadata). */
export function verifiableCredential(facts: CertificateFacts) {
  return {
    '@context': ['https://www.w3.org/ns/credentials/v2'],
    id: `urn:uuid:${facts.certificateId}`,
    type: ['VerifiableCredential', 'SymbeonCertificate'],
    name: `${facts.programme.name} certificate`,
    issuer: { id: facts.issuer.url, name: facts.issuer.name },
    validFrom: seconds(facts.issuedAt),
    validUntil: seconds(facts.expiresAt),
    credentialSubject: {
      id: holderDid(facts.chainId, facts.holderAddress),
      certification: {
        programme: { id: facts.programme.id, slug: facts.programme.slug, name: facts.programme.name },
        requestId: facts.requestId,
        ...(facts.auditReportCid ? { auditReport: `ipfs://${facts.auditReportCid}` } : {}),
      },
    },
  };
}

/** ERC-721 metadata JSON (name, description, image, attributes), plus links to the credential. */
export function erc721Metadata(facts: CertificateFacts, cids: { image: string; credential: string }) {
  return {
    name: `${facts.programme.name} — ${facts.issuer.name} certificate`,
    description: facts.programme.description,
    image: `ipfs://${cids.image}`,
    external_url: `${facts.issuer.url.replace(/\/$/, '')}/certificates/${facts.certificateId}`,
    attributes: [
      { trait_type: 'programme', value: facts.programme.name },
      { trait_type: 'programme id', value: facts.programme.id },
      { trait_type: 'holder', value: facts.holderAddress },
      { trait_type: 'issuedAt', display_type: 'date', value: Math.floor(facts.issuedAt.getTime() / 1000) },
      { trait_type: 'expiresAt', display_type: 'date', value: Math.floor(facts.expiresAt.getTime() / 1000) },
      { trait_type: 'request id', value: facts.requestId },
      { trait_type: 'audit report', value: facts.auditReportCid ? `ipfs://${facts.auditReportCid}` : 'none' },
    ],
    credential: `ipfs://${cids.credential}`,
  };
}

export const encodeJson = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
