import PDFDocument from 'pdfkit';
import type { InvoiceRow } from '../settlement/settlement-storage.js';
import { formatMinor } from './money.js';

/**
 * The invoice or credit note as a PDF (pdfkit, its built-in Helvetica: no font files). The creation date is
 * the document's issue date so that rendering twice gives the same document.
 */
export function renderInvoicePdf(invoice: InvoiceRow): Promise<Uint8Array> {
  const title = invoice.kind === 'INVOICE' ? 'Invoice' : 'Credit note';
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: {
      Title: `${title} ${invoice.number}`,
      Author: invoice.seller.name,
      CreationDate: invoice.issuedAt,
      ModDate: invoice.issuedAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Uint8Array>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    doc.on('error', reject);
  });
  const money = (value: bigint | string) => formatMinor(BigInt(value), invoice.currency);

  doc.fontSize(20).text(`${title} ${invoice.number}`);
  doc
    .fontSize(10)
    .moveDown(0.5)
    .text(`Issued ${invoice.issuedAt.toISOString().slice(0, 10)}`);
  doc.moveDown();
  doc.fontSize(11).text('Seller', { underline: true }).fontSize(10).text(invoice.seller.name);
  for (const line of invoice.seller.addressLines) doc.text(line);
  if (invoice.seller.vatId) doc.text(`VAT ID: ${invoice.seller.vatId}`);
  doc.moveDown();
  doc.fontSize(11).text('Buyer', { underline: true }).fontSize(10).text(invoice.buyer.name);
  for (const line of invoice.buyer.addressLines) doc.text(line);
  if (invoice.buyer.userId) doc.text(`Account: ${invoice.buyer.userId}`);
  doc.moveDown();
  doc.text(`Order: ${invoice.orderId}`);
  doc.moveDown();
  for (const line of invoice.lines) {
    doc.text(`${line.quantity} × ${line.description}    ${money(line.netMinor)}`);
  }
  doc.moveDown(0.5);
  doc.text(`Net: ${money(invoice.netMinor)}`);
  for (const tax of invoice.taxLines)
    doc.text(`${tax.label} on ${money(tax.baseMinor)}: ${money(tax.taxMinor)}`);
  doc.fontSize(12).text(`Total: ${money(invoice.totalMinor)}`);
  doc.end();
  return done;
}
