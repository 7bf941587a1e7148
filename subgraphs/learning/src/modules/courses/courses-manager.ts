import { z } from 'zod';
import { DomainError, ErrorCode, decodeCursor, pageSize, toConnection } from '@symbeon/kernel';
import type { KnownUsersStorage } from '../known-users/known-users-storage.js';
import { isUuid, parseInput, requireUuid, uuid } from '../shared/validation.js';
import type { CourseRow, CoursesStorage, Publication } from './courses-storage.js';

const slug = z
  .string()
  .trim()
  .max(80, 'must be at most 80 characters')
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lower-case letters and digits separated by single dashes');
const tags = z
  .array(z.string().trim().toLowerCase().min(1, 'must not be empty').max(40, 'must be at most 40 characters'))
  .max(20, 'at most 20 tags')
  .transform((list) => [...new Set(list)]);

const courseFields = {
  slug,
  title: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  summary: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
  level: z.enum(['BEGINNER', 'INTERMEDIATE', 'ADVANCED']),
  durationMinutes: z.number().int().min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
  tags,
  instructorId: uuid,
};

const createCourseInput = z.object({ ...courseFields, tags: tags.default([]) });
const updateCourseInput = z.object(courseFields).partial();

/** GraphQL gives explicit nulls for fields a client sent as null: for non-nullable columns, "unchanged". */
function withoutNulls(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null) return {};
  return Object.fromEntries(
    Object.entries(input).filter(([, value]) => value !== null && value !== undefined),
  );
}

export interface CourseFilterInput {
  level?: CourseRow['level'] | null;
  tag?: string | null;
  instructorId?: string | null;
  search?: string | null;
  status?: Publication | null;
}

export function createCoursesManager(courses: CoursesStorage, knownUsers: KnownUsersStorage) {
  async function requireKnownUser(userId: string, field: string) {
    const known = await knownUsers.findExisting([userId]);
    if (!known.has(userId)) throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`, field);
  }

  return {
    async createCourse(input: unknown): Promise<CourseRow> {
      const values = parseInput(createCourseInput, input);
      await requireKnownUser(values.instructorId, 'input.instructorId');
      const row = await courses.insertCourse(values);
      if (!row) throw new DomainError(ErrorCode.CONFLICT, `The slug "${values.slug}" is taken`, 'input.slug');
      return row;
    },

    async updateCourse(id: string, input: unknown): Promise<CourseRow> {
      requireUuid(id, 'course', 'id');
      const patch = parseInput(updateCourseInput, withoutNulls(input));
      if (Object.values(patch).every((value) => value === undefined)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give at least one field to change', 'input');
      }
      if (patch.instructorId) await requireKnownUser(patch.instructorId, 'input.instructorId');
      const result = await courses.updateCourse(id, patch);
      if (result === 'slug-taken') {
        throw new DomainError(ErrorCode.CONFLICT, `The slug "${patch.slug}" is taken`, 'input.slug');
      }
      if (!result) throw new DomainError(ErrorCode.NOT_FOUND, `No course with id "${id}"`, 'id');
      return result;
    },

    async publishCourse(id: string): Promise<CourseRow> {
      requireUuid(id, 'course', 'id');
      const published = await courses.publishCourse(id);
      if (published) return published;
      const [existing] = await courses.findByIds([id]);
      if (!existing) throw new DomainError(ErrorCode.NOT_FOUND, `No course with id "${id}"`, 'id');
      throw new DomainError(ErrorCode.INVALID_STATE, 'The course is already published', 'id');
    },

    /** Drafts are found only by those who may write the catalogue. */
    async findCourse(
      by: { id?: string | null; slug?: string | null },
      seeDrafts: boolean,
    ): Promise<CourseRow | null> {
      if ((by.id == null) === (by.slug == null)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give exactly one of id and slug', 'id');
      }
      let row: CourseRow | null;
      if (by.id != null) row = isUuid(by.id) ? ((await courses.findByIds([by.id]))[0] ?? null) : null;
      else row = (await courses.findBySlug(String(by.slug).trim().toLowerCase())) ?? null;
      return row && (row.publishedAt || seeDrafts) ? row : null;
    },

    async listCourses(
      args: { first?: number | null; after?: string | null; filter?: CourseFilterInput | null },
      seeDrafts: boolean,
    ) {
      const size = pageSize(args.first);
      const filter = args.filter ?? {};
      if ((filter.status ?? 'PUBLISHED') !== 'PUBLISHED' && !seeDrafts) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Drafts are visible with the learning:write scope only',
          'filter.status',
        );
      }
      let after: { createdAt: Date; id: string } | undefined;
      if (args.after != null) {
        const [createdAt, id] = decodeCursor(args.after, ['string', 'string']) as [string, string];
        after = { createdAt: new Date(createdAt), id };
        if (Number.isNaN(after.createdAt.getTime()) || !isUuid(id)) decodeCursor('', ['string']);
      }
      if (filter.instructorId != null && !isUuid(filter.instructorId)) {
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          'filter.instructorId is not a user id',
          'filter.instructorId',
        );
      }
      const rows = await courses.listCourses({
        limit: size + 1,
        after,
        level: filter.level ?? undefined,
        tag: filter.tag?.trim().toLowerCase() || undefined,
        instructorId: filter.instructorId ?? undefined,
        search: filter.search?.trim() || undefined,
        status: filter.status ?? 'PUBLISHED',
      });
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], after !== undefined);
    },
  };
}

export type CoursesManager = ReturnType<typeof createCoursesManager>;
