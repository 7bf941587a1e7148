/**
 * Magic numbers of the document types evidence usually comes in. A declared type with a signature here
 * must show it in the first bytes; other types (text/markdown...) are taken as declared.
 */

/** How many leading bytes the sniff looks at. */
export const SNIFF_BYTES = 1024;

const startsWith = (head: Uint8Array, bytes: readonly number[], at = 0) =>
  head.length >= at + bytes.length && bytes.every((byte, index) => head[at + index] === byte);

const ascii = (text: string) => [...text].map((char) => char.charCodeAt(0));

const PDF = ascii('%PDF-');

const SIGNATURES: Record<string, (head: Uint8Array) => boolean> = {
  // Readers accept the header anywhere in the first 1,024 bytes (PDF 1.7, Annex H).
  'application/pdf': (head) => {
    const window = head.subarray(0, SNIFF_BYTES);
    for (let index = 0; index + PDF.length <= window.length; index++) {
      if (startsWith(window, PDF, index)) return true;
    }
    return false;
  },
  'image/png': (head) => startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'image/jpeg': (head) => startsWith(head, [0xff, 0xd8, 0xff]),
  'image/gif': (head) => startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a')),
  'image/webp': (head) => startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8),
};

/**
 * true: the bytes start the way `mediaType` files do; false: they do not; undefined: no signature is known
 * for the type (nothing to check).
 */
export function sniffMatches(mediaType: string, head: Uint8Array): boolean | undefined {
  const check = SIGNATURES[mediaType];
  return check ? check(head) : undefined;
}

export class MediaTypeMismatchError extends Error {
  constructor(readonly mediaType: string) {
    super(`The file does not look like ${mediaType}`);
    this.name = 'MediaTypeMismatchError';
  }
}

/**
 * Passes a byte stream through unchanged, checking its first SNIFF_BYTES against the declared type on the
 * way: throws MediaTypeMismatchError (so the consumer, the content store, stores nothing) when they do not
 * match.
 */
export async function* sniffing(
  source: AsyncIterable<Uint8Array>,
  mediaType: string,
): AsyncGenerator<Uint8Array> {
  if (!SIGNATURES[mediaType]) {
    yield* source;
    return;
  }
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let checked = false;
  const check = () => {
    checked = true;
    const head = Buffer.concat(held, heldBytes);
    if (sniffMatches(mediaType, head) !== true) throw new MediaTypeMismatchError(mediaType);
  };
  for await (const chunk of source) {
    if (checked) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    heldBytes += chunk.byteLength;
    if (heldBytes >= SNIFF_BYTES) {
      check();
      yield* held;
      held.length = 0;
    }
  }
  if (!checked) {
    check();
    yield* held;
  }
}
