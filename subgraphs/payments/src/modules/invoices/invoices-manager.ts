import { createHmac, timingSafeEqual } from 'node:crypto';
import { pageSize, toConnection, type Connection, type ContentStore, type Principal } from '@symbeon/kernel';
import { requireAdmin, signedInUserId } from '../shared/access.js';
import { timeCursor } from '../shared/validation.js';
import type { InvoiceRow, InvoicesStorage, PaymentRow } from './invoices-storage.js';
import { renderInvoicePdf } from './invoice-pdf.js';

/** Where the subgraph serves invoice PDFs; the gateway passes GET /invoices/ through to it. */
export const INVOICES_PREFIX = '/invoices/';
/** How long a download link handed to the invoice's owner works. */
export const PDF_LINK_SECONDS = 600;

export interface InvoicesManagerDeps {
  storage: InvoicesStorage;
  contents: ContentStore;
  /** Public origin of the gateway (PAYMENTS_PUBLIC_URL). */
  publicUrl: string;
  /** Key of the download links' HMAC (derived from INTERNAL_AUTH_SECRET). */
  linkKey: string;
  now?: () => Date;
}

/**
 * Invoice PDFs. They carry the buyer's details, so they are never handed out by CID (the gateway's /ipfs/
 * serves anything by CID): `Invoice.pdfUrl` — readable only by the buyer and administrators — is a link to
 * GET /invoices/<id>.pdf signed for PDF_LINK_SECONDS (HMAC over id and expiry), served by this subgraph from
 * the content store, rendered again if the post-commit rendering was lost.
 */
export function createInvoicesManager(deps: InvoicesManagerDeps) {
  const now = deps.now ?? (() => new Date());
  const sign = (id: string, expires: number) =>
    createHmac('sha256', deps.linkKey).update(`invoice-pdf:${id}:${expires}`).digest('base64url');

  async function renderPdf(invoice: InvoiceRow): Promise<{ cid: string; bytes: Uint8Array }> {
    const bytes = await renderInvoicePdf(invoice);
    const stored = await deps.contents.add(bytes, { mediaType: 'application/pdf' });
    await deps.storage.setPdfCid(invoice.id, stored.cid);
    return { cid: stored.cid, bytes };
  }

  const cursorOf = timeCursor;

  return {
    renderPdf,

    /** The caller's invoices and credit notes, newest first. */
    async listInvoices(
      principal: Principal,
      args: { first?: number | null; after?: string | null },
    ): Promise<Connection<InvoiceRow>> {
      const buyerId = signedInUserId(principal);
      const size = pageSize(args.first);
      const rows = await deps.storage.pageForBuyer(buyerId, size, cursorOf(args.after));
      return toConnection(rows, size, (row) => [row.issuedAt.toISOString(), row.id], Boolean(args.after));
    },

    /** Payments on closed orders (LATE) and beyond the price (EXCESS), for administrators. */
    async listPaymentsForReview(
      principal: Principal,
      args: { first?: number | null; after?: string | null },
    ): Promise<Connection<PaymentRow>> {
      requireAdmin(principal);
      const size = pageSize(args.first);
      const rows = await deps.storage.reviewPage(size, cursorOf(args.after));
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], Boolean(args.after));
    },

    /** The caller's payments, newest first. */
    async listPayments(
      principal: Principal,
      args: { first?: number | null; after?: string | null },
    ): Promise<Connection<PaymentRow>> {
      const buyerId = signedInUserId(principal);
      const size = pageSize(args.first);
      const rows = await deps.storage.paymentsPageForBuyer(buyerId, size, cursorOf(args.after));
      return toConnection(rows, size, (row) => [row.createdAt.toISOString(), row.id], Boolean(args.after));
    },

    pdfUrl(invoice: InvoiceRow): string {
      const expires = Math.floor(now().getTime() / 1000) + PDF_LINK_SECONDS;
      const url = new URL(`${INVOICES_PREFIX}${invoice.id}.pdf`, deps.publicUrl);
      url.searchParams.set('expires', String(expires));
      url.searchParams.set('sig', sign(invoice.id, expires));
      return url.toString();
    },

    /** The PDF behind a signed link; undefined when the link is forged, expired or names nothing. */
    async download(
      id: string,
      expires: string | null,
      signature: string | null,
    ): Promise<{ invoice: InvoiceRow; bytes: Uint8Array } | undefined> {
      const expiresAt = Number(expires);
      if (!signature || !Number.isSafeInteger(expiresAt)) return undefined;
      if (expiresAt * 1000 < now().getTime()) return undefined;
      const expected = Buffer.from(sign(id, expiresAt));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
      const invoice = await deps.storage.byId(id);
      if (!invoice) return undefined;
      if (invoice.pdfCid) {
        const content = await deps.contents.get(invoice.pdfCid);
        if (content) {
          const parts: Uint8Array[] = [];
          for await (const part of content) parts.push(part);
          return { invoice, bytes: new Uint8Array(Buffer.concat(parts)) };
        }
      }
      return { invoice, bytes: (await renderPdf(invoice)).bytes };
    },
  };
}

export type InvoicesManager = ReturnType<typeof createInvoicesManager>;
