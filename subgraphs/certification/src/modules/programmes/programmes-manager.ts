import { z } from 'zod';
import {
  DomainError,
  ErrorCode,
  decodeCursor,
  pageSize,
  toConnection,
  type Principal,
} from '@symbeon/kernel';
import type { KnownUsersStorage } from '../known-users/known-users-storage.js';
import { isAdmin, requireAdmin } from '../shared/access.js';
import { isUuid, parseInput, requireUuid, uuid, withoutNulls } from '../shared/validation.js';
import type {
  ProgrammeRow,
  ProgrammesStorage,
  ProgrammeStatus,
  ProgrammeStatusFilter,
} from './programmes-storage.js';

const MAX_EVIDENCE_BYTES = 100 * 1024 * 1024;
const currencies = new Set(Intl.supportedValuesOf('currency'));

const slug = z
  .string()
  .trim()
  .max(80, 'must be at most 80 characters')
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lower-case letters and digits separated by single dashes');
const key = z
  .string()
  .trim()
  .regex(
    /^[a-z][a-z0-9_]{0,39}$/,
    'must be 1-40 lower-case letters, digits or underscores, starting with a letter',
  );
const label = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const mediaType = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z]+\/[a-z0-9][a-z0-9.+-]*$/, 'must be a media type such as application/pdf');

/** Keys name evidence and checklist items in audits and reports: unique within a programme. */
const uniqueKeys = <T extends { key: string }>(items: T[], context: z.RefinementCtx) => {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (seen.has(item.key))
      context.addIssue({ code: 'custom', message: `duplicate key "${item.key}"`, path: [index, 'key'] });
    seen.add(item.key);
  });
};

const evidenceTypes = z
  .array(
    z.object({
      key,
      label,
      mediaTypes: z
        .array(mediaType)
        .min(1, 'name at least one media type')
        .max(20, 'at most 20 media types')
        .transform((list) => [...new Set(list)]),
      maxBytes: z
        .number()
        .int('must be a whole number of bytes')
        .min(1, 'must be at least 1')
        .max(MAX_EVIDENCE_BYTES, `must be at most ${MAX_EVIDENCE_BYTES} (100 MiB)`),
      mandatory: z.boolean().default(true),
    }),
  )
  .max(20, 'at most 20 evidence types')
  .superRefine(uniqueKeys);

const auditChecklist = z
  .array(z.object({ key, label, mandatory: z.boolean().default(true) }))
  .max(50, 'at most 50 checklist items')
  .superRefine(uniqueKeys);

const ids = (what: string, max: number) =>
  z
    .array(uuid)
    .max(max, `at most ${max} ${what}`)
    .transform((list) => [...new Set(list)]);

const price = z
  .object({
    amountMinor: z
      .number()
      .int('must be a whole number of minor units (cents)')
      .min(1, 'must be at least 1; give no price for a free programme')
      .max(100_000_000, 'must be at most 100000000'),
    currency: z
      .string()
      .trim()
      .toUpperCase()
      .refine((code) => currencies.has(code), 'must be an ISO 4217 currency code such as EUR'),
  })
  .nullable();

const programmeFields = {
  slug,
  name: label,
  description: z.string().trim().min(1, 'must not be empty').max(5000, 'must be at most 5000 characters'),
  requiredEvidence: evidenceTypes,
  prerequisiteCourseIds: ids('prerequisite courses', 20),
  price,
  validityDays: z.number().int().min(1, 'must be at least 1').max(3650, 'must be at most 3650 (ten years)'),
  auditChecklist,
  issuanceMode: z.enum(['SINGLE', 'MERKLE_BATCH']),
  renewalRequiresAudit: z.boolean(),
  auditorIds: ids('auditors', 20),
};

const createProgrammeInput = z.object({
  ...programmeFields,
  requiredEvidence: evidenceTypes.default([]),
  prerequisiteCourseIds: programmeFields.prerequisiteCourseIds.default([]),
  price: price.default(null),
  auditChecklist: auditChecklist.default([]),
  issuanceMode: programmeFields.issuanceMode.default('SINGLE'),
  renewalRequiresAudit: programmeFields.renewalRequiresAudit.default(false),
  auditorIds: programmeFields.auditorIds.default([]),
});
const updateProgrammeInput = z.object(programmeFields).partial();

export interface ProgrammeFilterInput {
  status?: ProgrammeStatusFilter | null;
  search?: string | null;
}

type PriceInput = z.output<typeof price>;
const priceColumns = (value: PriceInput) => ({
  priceAmountMinor: value?.amountMinor ?? null,
  priceCurrency: value?.currency ?? null,
});

/** Anyone sees published and archived programmes (certificates refer to them); drafts only admins. */
const PUBLIC_STATUSES: readonly ProgrammeStatus[] = ['PUBLISHED', 'ARCHIVED'];

export const canSeeProgramme = (principal: Principal, programme: Pick<ProgrammeRow, 'status'>) =>
  PUBLIC_STATUSES.includes(programme.status) || isAdmin(principal);

export function createProgrammesManager(programmes: ProgrammesStorage, knownUsers: KnownUsersStorage) {
  async function requireKnownAuditors(auditorIds: readonly string[]) {
    const known = await knownUsers.findExisting(auditorIds);
    const index = auditorIds.findIndex((id) => !known.has(id));
    if (index >= 0) {
      throw new DomainError(
        ErrorCode.NOT_FOUND,
        `No user with id "${auditorIds[index]}"`,
        `input.auditorIds.${index}`,
      );
    }
  }

  async function requireProgramme(id: string): Promise<ProgrammeRow> {
    requireUuid(id, 'programme', 'id');
    const [row] = await programmes.findByIds([id]);
    if (!row) throw new DomainError(ErrorCode.NOT_FOUND, `No programme with id "${id}"`, 'id');
    return row;
  }

  return {
    async createProgramme(principal: Principal, input: unknown): Promise<ProgrammeRow> {
      const createdBy = requireAdmin(principal);
      const {
        auditorIds,
        price: givenPrice,
        requiredEvidence,
        ...values
      } = parseInput(createProgrammeInput, input);
      await requireKnownAuditors(auditorIds);
      const row = await programmes.insertProgramme(
        { ...values, evidenceTypes: requiredEvidence, ...priceColumns(givenPrice), createdBy },
        auditorIds,
      );
      if (!row) throw new DomainError(ErrorCode.CONFLICT, `The slug "${values.slug}" is taken`, 'input.slug');
      return row;
    },

    /** Only the fields given change; `price: null` makes the programme free. Archived ones are read-only. */
    async updateProgramme(principal: Principal, id: string, input: unknown): Promise<ProgrammeRow> {
      requireAdmin(principal);
      requireUuid(id, 'programme', 'id');
      const patch = parseInput(updateProgrammeInput, withoutNulls(input, ['price']));
      const { auditorIds, price: givenPrice, requiredEvidence, ...values } = patch;
      if (Object.values(patch).every((value) => value === undefined)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give at least one field to change', 'input');
      }
      if (auditorIds) await requireKnownAuditors(auditorIds);
      const current = await requireProgramme(id);
      if (current.status === 'PUBLISHED' && auditorIds?.length === 0) {
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          'A published programme needs at least one auditor',
          'input.auditorIds',
        );
      }
      const result = await programmes.updateProgramme(
        id,
        {
          ...values,
          ...(requiredEvidence ? { evidenceTypes: requiredEvidence } : {}),
          ...(givenPrice !== undefined ? priceColumns(givenPrice) : {}),
        },
        auditorIds,
      );
      if (result === 'slug-taken') {
        throw new DomainError(ErrorCode.CONFLICT, `The slug "${patch.slug}" is taken`, 'input.slug');
      }
      if (!result)
        throw new DomainError(ErrorCode.INVALID_STATE, 'An archived programme cannot change', 'id');
      return result;
    },

    /** A draft enters the catalogue and starts accepting requests; it needs an auditor to review them. */
    async publishProgramme(principal: Principal, id: string): Promise<ProgrammeRow> {
      requireAdmin(principal);
      const current = await requireProgramme(id);
      if (current.status !== 'DRAFT') {
        throw new DomainError(ErrorCode.INVALID_STATE, `The programme is ${current.status}, not DRAFT`, 'id');
      }
      const auditors = await programmes.findAuditors([id]);
      if (auditors.length === 0) {
        throw new DomainError(ErrorCode.INVALID_STATE, 'Assign at least one auditor before publishing', 'id');
      }
      const row = await programmes.changeStatus(id, ['DRAFT'], 'PUBLISHED');
      if (!row) throw new DomainError(ErrorCode.CONFLICT, 'The programme changed meanwhile; try again', 'id');
      return row;
    },

    /** Stops accepting requests; requests already open go on, certificates keep referring to it. */
    async archiveProgramme(principal: Principal, id: string): Promise<ProgrammeRow> {
      requireAdmin(principal);
      const current = await requireProgramme(id);
      if (current.status === 'ARCHIVED') {
        throw new DomainError(ErrorCode.INVALID_STATE, 'The programme is already archived', 'id');
      }
      const row = await programmes.changeStatus(id, ['DRAFT', 'PUBLISHED'], 'ARCHIVED');
      if (!row) throw new DomainError(ErrorCode.CONFLICT, 'The programme changed meanwhile; try again', 'id');
      return row;
    },

    async findProgramme(
      principal: Principal,
      by: { id?: string | null; slug?: string | null },
    ): Promise<ProgrammeRow | null> {
      if ((by.id == null) === (by.slug == null)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give exactly one of id and slug', 'id');
      }
      let row: ProgrammeRow | null;
      if (by.id != null) row = isUuid(by.id) ? ((await programmes.findByIds([by.id]))[0] ?? null) : null;
      else row = (await programmes.findBySlug(String(by.slug).trim().toLowerCase())) ?? null;
      return row && canSeeProgramme(principal, row) ? row : null;
    },

    async listProgrammes(
      principal: Principal,
      args: { first?: number | null; after?: string | null; filter?: ProgrammeFilterInput | null },
    ) {
      const size = pageSize(args.first);
      const filter = args.filter ?? {};
      const status = filter.status ?? 'PUBLISHED';
      const statuses: ProgrammeStatus[] = status === 'ANY' ? ['DRAFT', 'PUBLISHED', 'ARCHIVED'] : [status];
      if (!isAdmin(principal) && statuses.some((item) => !PUBLIC_STATUSES.includes(item))) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Draft programmes are visible to administrators only',
          'filter.status',
        );
      }
      let after: { createdAt: Date; id: string } | undefined;
      if (args.after != null) {
        const [createdAt, id] = decodeCursor(args.after, ['string', 'string']) as [string, string];
        after = { createdAt: new Date(createdAt), id };
        if (Number.isNaN(after.createdAt.getTime()) || !isUuid(id)) decodeCursor('', ['string']);
      }
      const rows = await programmes.listProgrammes({
        limit: size + 1,
        after,
        statuses,
        search: filter.search?.trim() || undefined,
      });
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], after !== undefined);
    },
  };
}

export type ProgrammesManager = ReturnType<typeof createProgrammesManager>;
