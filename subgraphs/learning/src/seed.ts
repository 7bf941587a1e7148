import type { LearningModules } from './context.js';

const DAY = 24 * 3600_000;

/**
 * Demo catalogue for the embedded profile: published courses with instructors and upcoming events.
 * Idempotent: courses are found by slug; events are only added when there are none.
 */
export async function seedLearningDemo(
  modules: LearningModules,
  instructors: { ada: string; grace: string },
) {
  const courses = [
    {
      slug: 'smart-contract-fundamentals',
      title: 'Smart Contract Fundamentals',
      summary:
        'Accounts, transactions, gas and the EVM, then your first Solidity contract, tested on a local chain.',
      level: 'BEGINNER' as const,
      durationMinutes: 240,
      tags: ['solidity', 'ethereum', 'evm'],
      instructorId: instructors.ada,
      publish: true,
    },
    {
      slug: 'verifiable-credentials',
      title: 'Verifiable Credentials in Practice',
      summary: 'W3C Verifiable Credentials 2.0, issuers and holders, and how verifiers check a credential.',
      level: 'INTERMEDIATE' as const,
      durationMinutes: 180,
      tags: ['credentials', 'w3c', 'identity'],
      instructorId: instructors.grace,
      publish: true,
    },
    {
      slug: 'soulbound-tokens',
      title: 'Soulbound Tokens and On-Chain Certificates',
      summary:
        'ERC-721, ERC-5192 and ERC-4906: certificates that cannot be transferred, and their metadata on IPFS.',
      level: 'ADVANCED' as const,
      durationMinutes: 300,
      tags: ['nft', 'erc-5192', 'ipfs'],
      instructorId: instructors.ada,
      publish: true,
    },
    {
      slug: 'auditing-evidence',
      title: 'Auditing Evidence',
      summary: 'What auditors look for in a certification request, and how automated checks help them.',
      level: 'INTERMEDIATE' as const,
      durationMinutes: 120,
      tags: ['audit', 'compliance'],
      instructorId: instructors.grace,
      publish: true,
    },
    {
      slug: 'zero-knowledge-proofs',
      title: 'Zero-Knowledge Proofs (draft)',
      summary: 'Proving a credential without revealing it. Coming soon.',
      level: 'ADVANCED' as const,
      durationMinutes: 360,
      tags: ['zk', 'privacy'],
      instructorId: instructors.ada,
      publish: false,
    },
  ];
  for (const { publish, ...course } of courses) {
    const existing = await modules.storage.courses.findBySlug(course.slug);
    const row = existing ?? (await modules.courses.createCourse(course));
    if (publish && !row.publishedAt) await modules.courses.publishCourse(row.id);
  }

  const upcoming = await modules.events.listEvents({ first: 1, filter: { status: 'ANY' } }, true);
  if (upcoming.edges.length > 0) return;
  const now = Date.now();
  const events = [
    {
      title: 'Workshop: Deploy Your First Certificate Contract',
      description: 'Hands-on: write, test and deploy a soulbound certificate on a local chain.',
      kind: 'WORKSHOP' as const,
      startsAt: new Date(now + 7 * DAY),
      endsAt: new Date(now + 7 * DAY + 3 * 3600_000),
      location: 'Symbeon Lab, Lisbon',
      capacity: 20,
    },
    {
      title: 'Webinar: How Verifiers Check a Credential',
      description: 'A walk through every step of certificate verification.',
      kind: 'WEBINAR' as const,
      startsAt: new Date(now + 10 * DAY),
      endsAt: new Date(now + 10 * DAY + 3600_000),
      onlineUrl: 'https://events.symbeon.dev/verifiers',
      capacity: 500,
    },
    {
      title: 'Webinar: Preparing Evidence for an Audit',
      description: 'What makes evidence easy to audit, with examples.',
      kind: 'WEBINAR' as const,
      startsAt: new Date(now + 21 * DAY),
      endsAt: new Date(now + 21 * DAY + 3600_000),
      onlineUrl: 'https://events.symbeon.dev/evidence',
      capacity: 300,
    },
  ];
  for (const event of events) {
    const created = await modules.events.createEvent(event);
    await modules.events.publishEvent(created.id);
  }
}
