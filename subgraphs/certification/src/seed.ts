import type { Principal } from '@symbeon/kernel';
import type { CertificationModules } from './context.js';

/**
 * Demo programmes for the embedded profile (issue 5): a free one, `foundations`, and a priced one,
 * `professional` (EUR 49.00, for the payments work), both audited by the AUDITOR demo user. Idempotent:
 * programmes are found by slug. Runs as the demo administrator, through the managers' own rules.
 */
export async function seedCertificationDemo(
  modules: CertificationModules,
  users: { admin: string; auditor: string },
) {
  const admin: Principal = {
    kind: 'user',
    userId: users.admin,
    sessionId: 'embedded-demo-seed',
    roles: ['MEMBER', 'ADMIN'],
    scopes: [],
    tier: 'FREE',
  };
  const programmes = [
    {
      slug: 'foundations',
      name: 'Symbeon Foundations',
      description:
        'Show that you can write, test and explain a simple smart contract. One portfolio document (PDF), ' +
        'audited automatically and then by an auditor; certified with a soulbound NFT.',
      requiredEvidence: [
        {
          key: 'portfolio',
          label: 'Portfolio (PDF)',
          mediaTypes: ['application/pdf'],
          maxBytes: 10 * 1024 * 1024,
          mandatory: true,
        },
      ],
      validityDays: 365,
      auditChecklist: [
        { key: 'evidence_present', label: 'The portfolio is attached', mandatory: true },
        { key: 'evidence_intact', label: 'The document matches its CID and hash', mandatory: true },
        { key: 'pdf_parses', label: 'The portfolio is a readable PDF', mandatory: true },
      ],
      issuanceMode: 'SINGLE',
      auditorIds: [users.auditor],
    },
    {
      slug: 'professional',
      name: 'Symbeon Professional',
      description:
        'For practitioners: a portfolio and a project report, with the Foundations courses as groundwork.',
      requiredEvidence: [
        {
          key: 'portfolio',
          label: 'Portfolio (PDF)',
          mediaTypes: ['application/pdf'],
          maxBytes: 10 * 1024 * 1024,
          mandatory: true,
        },
        {
          key: 'project_report',
          label: 'Project report (PDF or Markdown)',
          mediaTypes: ['application/pdf', 'text/markdown'],
          maxBytes: 20 * 1024 * 1024,
          mandatory: true,
        },
      ],
      price: { amountMinor: 4900, currency: 'EUR' },
      validityDays: 730,
      auditChecklist: [
        { key: 'evidence_present', label: 'Both documents are attached', mandatory: true },
        { key: 'evidence_intact', label: 'Each document matches its CID and hash', mandatory: true },
        { key: 'report_depth', label: 'The report describes a real project', mandatory: false },
      ],
      issuanceMode: 'MERKLE_BATCH',
      auditorIds: [users.auditor],
    },
  ];
  for (const programme of programmes) {
    const existing = await modules.storage.programmes.findBySlug(programme.slug);
    const row = existing ?? (await modules.programmes.createProgramme(admin, programme));
    if (row.status === 'DRAFT') await modules.programmes.publishProgramme(admin, row.id);
  }
}
