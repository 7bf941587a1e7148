import { randomUUID } from 'node:crypto';
import { createLogger, type Principal } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';

// The programmes manager over real storage on a real database (PostgreSQL when reachable, PGlite otherwise).
let database: TestDatabase<typeof schema>;
let modules: ReturnType<typeof createCertificationModules>;
const adminId = randomUUID();
const auditorId = randomUUID();

const principal = (userId: string, roles: string[]): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const admin = principal(adminId, ['ADMIN']);
const member = principal(randomUUID(), []);

const programme = (slug: string, extra: Record<string, unknown> = {}) => ({
  slug,
  name: `Programme ${slug}`,
  description: 'What it certifies',
  requiredEvidence: [
    { key: 'portfolio', label: 'Portfolio', mediaTypes: ['Application/PDF'], maxBytes: 1000 },
  ],
  validityDays: 365,
  auditChecklist: [{ key: 'evidence_present', label: 'Evidence attached' }],
  auditorIds: [auditorId],
  ...extra,
});

async function count() {
  return (await database.db.select().from(schema.programmes)).length;
}

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  modules = createCertificationModules(database.db, createLogger('test', { level: 'silent' }));
  const knownUsers = createKnownUsersStorage(database.db);
  await knownUsers.remember(database.db, adminId, 'admin');
  await knownUsers.remember(database.db, auditorId, 'auditor');
});

afterAll(async () => {
  await database?.close();
});

describe('programmes', () => {
  it('creates a draft with defaults and normalised values, and publishes it', async () => {
    const row = await modules.programmes.createProgramme(
      admin,
      programme('basics', { price: { amountMinor: 4900, currency: 'eur' } }),
    );
    expect(row).toMatchObject({
      status: 'DRAFT',
      priceAmountMinor: 4900,
      priceCurrency: 'EUR',
      issuanceMode: 'SINGLE',
      prerequisiteCourseIds: [],
      createdBy: adminId,
      evidenceTypes: [
        {
          key: 'portfolio',
          label: 'Portfolio',
          mediaTypes: ['application/pdf'],
          maxBytes: 1000,
          mandatory: true,
        },
      ],
      auditChecklist: [{ key: 'evidence_present', label: 'Evidence attached', mandatory: true }],
    });
    const published = await modules.programmes.publishProgramme(admin, row.id);
    expect(published.status).toBe('PUBLISHED');
    expect(published.publishedAt).toBeInstanceOf(Date);
    const events = await database.db.select().from(schema.outbox);
    // Payments prices orders from this event: name and price travel with it (minor units as a string).
    expect(events.find((event) => event.type === 'certification.ProgrammePublished')?.payload).toEqual({
      programmeId: row.id,
      slug: 'basics',
      name: 'Programme basics',
      priceAmountMinor: '4900',
      currency: 'EUR',
    });
    await expect(modules.programmes.publishProgramme(admin, row.id)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });

  it("announces a published programme's new price, and stays quiet about drafts", async () => {
    const draft = await modules.programmes.createProgramme(admin, programme('quiet-draft'));
    const updates = async (programmeId: string) =>
      (await database.db.select().from(schema.outbox)).filter(
        (event) =>
          event.type === 'certification.ProgrammeUpdated' &&
          (event.payload as { programmeId?: string }).programmeId === programmeId,
      );
    await modules.programmes.updateProgramme(admin, draft.id, { name: 'Renamed draft' });
    expect(await updates(draft.id)).toHaveLength(0);

    await modules.programmes.publishProgramme(admin, draft.id);
    await modules.programmes.updateProgramme(admin, draft.id, {
      price: { amountMinor: 12_345, currency: 'USD' },
    });
    const [announced] = await updates(draft.id);
    expect(announced?.payload).toMatchObject({
      priceAmountMinor: '12345',
      currency: 'USD',
      name: 'Renamed draft',
    });
  });

  it.each([
    ['a bad slug', { slug: 'Not A Slug' }, 'input.slug'],
    ['an empty name', { name: '  ' }, 'input.name'],
    ['a zero validity', { validityDays: 0 }, 'input.validityDays'],
    ['a zero price', { price: { amountMinor: 0, currency: 'EUR' } }, 'input.price.amountMinor'],
    ['a fractional price', { price: { amountMinor: 49.5, currency: 'EUR' } }, 'input.price.amountMinor'],
    ['an unknown currency', { price: { amountMinor: 100, currency: 'EUX' } }, 'input.price.currency'],
    [
      'a duplicate evidence key',
      {
        requiredEvidence: [
          { key: 'doc', label: 'A', mediaTypes: ['application/pdf'], maxBytes: 10 },
          { key: 'doc', label: 'B', mediaTypes: ['application/pdf'], maxBytes: 10 },
        ],
      },
      'input.requiredEvidence.1.key',
    ],
    [
      'evidence without media types',
      { requiredEvidence: [{ key: 'doc', label: 'A', mediaTypes: [], maxBytes: 10 }] },
      'input.requiredEvidence.0.mediaTypes',
    ],
    [
      'a bad media type',
      { requiredEvidence: [{ key: 'doc', label: 'A', mediaTypes: ['pdf'], maxBytes: 10 }] },
      'input.requiredEvidence.0.mediaTypes.0',
    ],
    [
      'an evidence limit over 100 MiB',
      { requiredEvidence: [{ key: 'doc', label: 'A', mediaTypes: ['application/pdf'], maxBytes: 2 ** 30 }] },
      'input.requiredEvidence.0.maxBytes',
    ],
    [
      'a duplicate checklist key',
      {
        auditChecklist: [
          { key: 'x', label: 'X' },
          { key: 'x', label: 'Y' },
        ],
      },
      'input.auditChecklist.1.key',
    ],
    [
      'a prerequisite that is not an id',
      { prerequisiteCourseIds: ['course-1'] },
      'input.prerequisiteCourseIds.0',
    ],
    ['an unknown issuance mode', { issuanceMode: 'BATCH' }, 'input.issuanceMode'],
  ])('refuses %s (BAD_USER_INPUT naming the field) and writes nothing', async (_, change, field) => {
    const before = await count();
    await expect(
      modules.programmes.createProgramme(admin, programme(`bad-${randomUUID().slice(0, 8)}`, change)),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await count()).toBe(before);
  });

  it('refuses an unknown auditor, a taken slug and a non-administrator, writing nothing', async () => {
    const before = await count();
    await expect(
      modules.programmes.createProgramme(
        admin,
        programme('unknown-auditor', { auditorIds: [auditorId, randomUUID()] }),
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'input.auditorIds.1' });
    await expect(modules.programmes.createProgramme(admin, programme('basics'))).rejects.toMatchObject({
      code: 'CONFLICT',
      field: 'input.slug',
    });
    await expect(modules.programmes.createProgramme(member, programme('by-member'))).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(await count()).toBe(before);
  });

  it('needs an auditor to publish, edits only what is given, and keeps archived programmes read-only', async () => {
    const row = await modules.programmes.createProgramme(admin, programme('editable', { auditorIds: [] }));
    await expect(modules.programmes.publishProgramme(admin, row.id)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    const priced = await modules.programmes.updateProgramme(admin, row.id, {
      name: 'Renamed',
      description: null,
      price: { amountMinor: 100, currency: 'USD' },
      auditorIds: [auditorId],
    });
    expect(priced).toMatchObject({ name: 'Renamed', description: 'What it certifies', priceCurrency: 'USD' });
    expect(await modules.storage.programmes.findAuditors([row.id])).toEqual([
      { programmeId: row.id, auditorId },
    ]);
    const free = await modules.programmes.updateProgramme(admin, row.id, { price: null });
    expect(free).toMatchObject({ priceAmountMinor: null, priceCurrency: null });
    await expect(modules.programmes.updateProgramme(admin, row.id, {})).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(
      modules.programmes.updateProgramme(admin, row.id, { validityDays: -1, name: 'Not applied' }),
    ).rejects.toMatchObject({ field: 'input.validityDays' });
    await modules.programmes.publishProgramme(admin, row.id);
    await expect(modules.programmes.updateProgramme(admin, row.id, { auditorIds: [] })).rejects.toMatchObject(
      {
        field: 'input.auditorIds',
      },
    );
    await expect(modules.programmes.updateProgramme(member, row.id, { name: 'x' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await modules.programmes.archiveProgramme(admin, row.id);
    await expect(modules.programmes.updateProgramme(admin, row.id, { name: 'x' })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    const after = await modules.programmes.findProgramme(admin, { id: row.id });
    expect(after).toMatchObject({ name: 'Renamed', status: 'ARCHIVED', priceAmountMinor: null });
  });

  it('shows drafts to administrators only, pages the catalogue and finds by slug', async () => {
    const draft = await modules.programmes.createProgramme(admin, programme('secret-draft'));
    expect(await modules.programmes.findProgramme(member, { id: draft.id })).toBeNull();
    expect((await modules.programmes.findProgramme(admin, { slug: 'SECRET-DRAFT' }))?.id).toBe(draft.id);
    expect((await modules.programmes.findProgramme(member, { slug: 'basics' }))?.status).toBe('PUBLISHED');
    await expect(
      modules.programmes.listProgrammes(member, { filter: { status: 'DRAFT' } }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(modules.programmes.findProgramme(member, { id: draft.id, slug: 'x' })).rejects.toMatchObject(
      {
        code: 'BAD_USER_INPUT',
      },
    );

    for (let index = 0; index < 5; index += 1) {
      const row = await modules.programmes.createProgramme(admin, programme(`paged-${index}`));
      await modules.programmes.publishProgramme(admin, row.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await modules.programmes.listProgrammes(member, {
        first: 2,
        after,
        filter: { search: 'paged' },
      });
      seen.push(...page.edges.map((edge) => edge.node.slug));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(['paged-4', 'paged-3', 'paged-2', 'paged-1', 'paged-0']);
    const publicSlugs = (await modules.programmes.listProgrammes(member, { first: 100 })).edges.map(
      (edge) => edge.node.slug,
    );
    expect(publicSlugs).not.toContain('secret-draft');
    const everything = await modules.programmes.listProgrammes(admin, {
      first: 100,
      filter: { status: 'ANY' },
    });
    expect(everything.edges.map((edge) => edge.node.slug)).toContain('secret-draft');
  });
});
