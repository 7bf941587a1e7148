import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import { canSeeProgramme, type ProgrammeFilterInput } from './programmes-manager.js';
import type { ProgrammeRow } from './programmes-storage.js';

type Context = CertificationContext;

export const programmesResolvers: GraphQLResolverMap<Context> = {
  Query: {
    programme: (_: unknown, args: { id?: string | null; slug?: string | null }, context: Context) =>
      context.programmes.findProgramme(context.principal, args),
    programmes: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: ProgrammeFilterInput | null },
      context: Context,
    ) => context.programmes.listProgrammes(context.principal, args),
  },
  Mutation: {
    createProgramme: (_: unknown, args: { input: unknown }, context: Context) =>
      asResult(async () => ({
        programme: await context.programmes.createProgramme(context.principal, args.input),
      })),
    updateProgramme: (_: unknown, args: { id: string; input: unknown }, context: Context) =>
      asResult(async () => ({
        programme: await context.programmes.updateProgramme(context.principal, args.id, args.input),
      })),
    publishProgramme: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({
        programme: await context.programmes.publishProgramme(context.principal, args.id),
      })),
    archiveProgramme: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({
        programme: await context.programmes.archiveProgramme(context.principal, args.id),
      })),
  },
  Programme: {
    // Drafts stay hidden from non-administrators here too: an entity reference is a read like any other.
    __resolveReference: async (reference: { id: string }, context: Context) => {
      const row = await context.loaders.programmeById.load(reference.id);
      return row && canSeeProgramme(context.principal, row) ? row : null;
    },
    requiredEvidence: (programme: ProgrammeRow) => programme.evidenceTypes,
    prerequisites: (programme: ProgrammeRow) =>
      programme.prerequisiteCourseIds.map((id) => ({ __typename: 'Course', id })),
    price: (programme: ProgrammeRow) =>
      programme.priceAmountMinor != null && programme.priceCurrency != null
        ? { amountMinor: programme.priceAmountMinor, currency: programme.priceCurrency }
        : null,
    auditors: async (programme: ProgrammeRow, _: unknown, context: Context) =>
      (await context.loaders.auditorIdsByProgramme.load(programme.id)).map((id) => ({
        __typename: 'User',
        id,
      })),
  },
};
