import { createHash } from 'node:crypto';
import type { PDFDocument as PdfDocument } from 'pdf-lib';
import type { ContentStore } from '@symbeon/kernel';
import { importFile } from '@symbeon/kernel/content';
import { SNIFF_BYTES, sniffMatches } from '../evidence/media-sniff.js';
import type { EvidenceRow } from '../evidence/evidence-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import type { AuditCheckResult } from './audit-storage.js';

type ChecklistItem = ProgrammeRow['auditChecklist'][number];

/**
 * The checks the platform evaluates itself. A programme's checklist item with one of these keys takes its
 * label and `mandatory` from the programme; these always run, mandatory unless the checklist says otherwise.
 */
export const BUILT_IN_CHECKS = {
  evidence_present: 'Every mandatory evidence type is attached',
  evidence_intact: "Each document's bytes still match its CID and SHA-256",
  media_types_valid: 'Media types and sizes are those the programme accepts',
  pdf_parses: 'Every PDF document parses',
  prerequisites_complete: 'The prerequisite courses are completed',
} as const;
export type BuiltInCheck = keyof typeof BUILT_IN_CHECKS;
export const BUILT_IN_KEYS = Object.keys(BUILT_IN_CHECKS) as BuiltInCheck[];

const PDF = 'application/pdf';

/** What was read back from the store for one document. */
export interface DocumentReading {
  row: EvidenceRow;
  /** Undefined when the bytes could not be read (see problem). */
  actual?: { cid: string; sha256: string; size: number };
  problem?: string;
  head: Uint8Array;
  /** The whole file, kept for PDFs only (to parse them). */
  bytes?: Uint8Array;
}

/** The importer's blockstore that keeps nothing: only the root CID is wanted. */
const discard: Parameters<typeof importFile>[1] = {
  put: async (cid) => cid,
};

/**
 * Re-reads a document from the content store and recomputes, independently of what the store claims, its
 * SHA-256 and its CID (Kubo's layout, via the same UnixFS importer settings).
 */
export async function readDocument(store: ContentStore, row: EvidenceRow): Promise<DocumentReading> {
  const keep = row.mediaType === PDF;
  const chunks: Uint8Array[] = [];
  const headChunks: Uint8Array[] = [];
  let headBytes = 0;
  try {
    const stream = await store.get(row.cid);
    if (!stream) return { row, problem: 'the content store does not have it', head: new Uint8Array() };
    const hash = createHash('sha256');
    let size = 0;
    async function* tee(source: AsyncIterable<Uint8Array>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.byteLength;
        if (keep) chunks.push(chunk);
        if (headBytes < SNIFF_BYTES) {
          headChunks.push(chunk.subarray(0, SNIFF_BYTES - headBytes));
          headBytes += Math.min(chunk.byteLength, SNIFF_BYTES - headBytes);
        }
        yield chunk;
      }
    }
    const cid = await importFile(tee(stream), discard);
    return {
      row,
      actual: { cid: cid.toString(), sha256: hash.digest('hex'), size },
      head: Buffer.concat(headChunks, headBytes),
      ...(keep ? { bytes: Buffer.concat(chunks, size) } : {}),
    };
  } catch (error) {
    return {
      row,
      problem: `could not be read back: ${error instanceof Error ? error.message : String(error)}`,
      head: new Uint8Array(),
    };
  }
}

type Verdict = Pick<AuditCheckResult, 'passed' | 'detail' | 'evidence'>;

export function evidencePresent(programme: ProgrammeRow, documents: readonly EvidenceRow[]): Verdict {
  const present = new Set(documents.map((row) => row.evidenceKey));
  const missing = programme.evidenceTypes.filter((item) => item.mandatory && !present.has(item.key));
  return {
    passed: missing.length === 0,
    detail:
      missing.length === 0
        ? `${documents.length} document(s) attached; every mandatory evidence type is present`
        : `Missing: ${missing.map((item) => `${item.label} (${item.key})`).join(', ')}`,
    evidence: {
      required: programme.evidenceTypes.filter((item) => item.mandatory).map((item) => item.key),
      attached: [...present],
    },
  };
}

export function evidenceIntact(readings: readonly DocumentReading[]): Verdict {
  const results = readings.map((reading) => {
    const { row, actual } = reading;
    const problems: string[] = [];
    if (reading.problem) problems.push(reading.problem);
    if (actual && actual.cid !== row.cid) problems.push(`its bytes now have CID ${actual.cid}`);
    if (actual && actual.sha256 !== row.sha256)
      problems.push(`its SHA-256 is ${actual.sha256}, ${row.sha256} was recorded`);
    if (actual && actual.size !== row.size)
      problems.push(`it is ${actual.size} bytes, ${row.size} were recorded`);
    return { key: row.evidenceKey, cid: row.cid, sha256: row.sha256, actual: actual ?? null, problems };
  });
  const failed = results.filter((result) => result.problems.length > 0);
  return {
    passed: failed.length === 0,
    detail:
      failed.length === 0
        ? readings.length === 0
          ? 'No documents to verify'
          : `${readings.length} document(s) re-read and re-hashed: CID and SHA-256 match`
        : failed.map((result) => `${result.key}: ${result.problems.join('; ')}`).join('. '),
    evidence: results,
  };
}

export function mediaTypesValid(programme: ProgrammeRow, readings: readonly DocumentReading[]): Verdict {
  const problems: string[] = [];
  for (const { row, head, actual } of readings) {
    const requirement = programme.evidenceTypes.find((item) => item.key === row.evidenceKey);
    if (!requirement) continue; // no longer asked for: not the requester's fault, and not audited
    if (!requirement.mediaTypes.includes(row.mediaType))
      problems.push(`${row.evidenceKey}: ${row.mediaType} is not ${requirement.mediaTypes.join(' or ')}`);
    if (row.size < 1 || row.size > requirement.maxBytes)
      problems.push(`${row.evidenceKey}: ${row.size} bytes is outside 1..${requirement.maxBytes}`);
    if (actual && sniffMatches(row.mediaType, head) === false)
      problems.push(`${row.evidenceKey}: the bytes do not look like ${row.mediaType}`);
  }
  return {
    passed: problems.length === 0,
    detail: problems.length === 0 ? 'Every document has an accepted type and size' : problems.join('. '),
    evidence: readings.map(({ row }) => ({ key: row.evidenceKey, mediaType: row.mediaType, size: row.size })),
  };
}

export async function pdfsParse(readings: readonly DocumentReading[]): Promise<Verdict> {
  const pdfs = readings.filter((reading) => reading.row.mediaType === PDF);
  const results = await Promise.all(
    pdfs.map(async ({ row, bytes }) => {
      if (!bytes) return { key: row.evidenceKey, pages: null, problem: 'could not be read' };
      try {
        // pdf-lib loads on the first PDF check, not at start-up.
        const { PDFDocument } = await import('pdf-lib');
        const document: PdfDocument = await PDFDocument.load(bytes, {
          ignoreEncryption: true,
          throwOnInvalidObject: true,
          updateMetadata: false,
        });
        if (document.isEncrypted) return { key: row.evidenceKey, pages: null, problem: 'is encrypted' };
        const pages = document.getPageCount();
        return { key: row.evidenceKey, pages, problem: pages > 0 ? null : 'has no pages' };
      } catch (error) {
        const reason = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error);
        return { key: row.evidenceKey, pages: null, problem: `does not parse (${reason})` };
      }
    }),
  );
  const failed = results.filter((result) => result.problem);
  return {
    passed: failed.length === 0,
    detail:
      pdfs.length === 0
        ? 'No PDF documents'
        : failed.length === 0
          ? results.map((result) => `${result.key}: ${result.pages} page(s)`).join(', ')
          : failed.map((result) => `${result.key} ${result.problem}`).join('. '),
    evidence: results,
  };
}

export function prerequisitesComplete(programme: ProgrammeRow, completions: Map<string, Date>): Verdict {
  const required = programme.prerequisiteCourseIds;
  const missing = required.filter((id) => !completions.has(id));
  return {
    passed: missing.length === 0,
    detail:
      required.length === 0
        ? 'No prerequisite courses'
        : missing.length === 0
          ? `All ${required.length} prerequisite course(s) completed`
          : `Not completed (according to learning's EnrollmentCompleted events): ${missing.join(', ')}`,
    evidence: required.map((courseId) => ({
      courseId,
      completedAt: completions.get(courseId)?.toISOString() ?? null,
    })),
  };
}

/** The programme's checklist item for a key, if it has one. */
export function checklistItem(programme: ProgrammeRow, key: string): ChecklistItem | undefined {
  return programme.auditChecklist.find((item) => item.key === key);
}
