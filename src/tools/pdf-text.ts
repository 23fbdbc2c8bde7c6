/**
 * Text of a PDF for web_visit, with `unpdf` 1.7.0 (MIT; a serverless build of Mozilla's PDF.js 5.6 with no
 * dependencies: no worker file, no canvas, no network; fonts and CMaps are not fetched). It runs in this thread,
 * page by page, so the page and character caps below also bound the CPU spent on one PDF.
 *
 * Measured on Node 20.20 (2-core VM): module load + a 2-page, 3.4 KB PDF 99 ms cold, 9 ms warm; a 260-page,
 * 1.06 MB PDF (1.5 M characters) 1.0–1.3 s in full, 40 ms for its first 10 pages.
 *
 * Limits: PDFs that need a password, that are corrupt or cut short, or that have no text layer (scanned pages)
 * cannot be read and raise PdfReadError ("PDF could not be read: …"). Text in fonts that need PDF.js's CMap files
 * (some CJK PDFs) may come out empty, because those files are not bundled.
 */

/** Pages read at most from one PDF (a 50-page paper is ~150,000 characters, beyond web_visit_max_chars anyway). */
export const PDF_MAX_PAGES = 50;
/**
 * Largest PDF download kept (bytes) when the server says `application/pdf`. A PDF cut short cannot be parsed
 * (its cross-reference table is at the end), so PDFs get a larger cap than web_visit_max_bytes (2 MB): most
 * papers and reports are under 10 MB.
 */
export const PDF_MAX_BYTES = 10 * 1024 * 1024;

/** A PDF that cannot be read; the message reads "PDF could not be read: <why>". */
export class PdfReadError extends Error {
  override name = 'PdfReadError';
  constructor(readonly reason: string) {
    super(`PDF could not be read: ${reason}`);
  }
}

export interface PdfText {
  /** The document's Title metadata, or ''. */
  title: string;
  /** Text of the pages read, pages separated by a blank line; at most `maxChars` characters. */
  text: string;
  /** Pages in the document. */
  pages: number;
  /** Pages whose text was read. */
  pagesRead: number;
  /** Pages or characters were left out (caps). */
  truncated: boolean;
}

export interface PdfOptions {
  /** Characters kept at most (reading stops once reached). */
  maxChars: number;
  /** Pages read at most (default PDF_MAX_PAGES). */
  maxPages?: number;
  /** The body was cut at a byte cap: named in the error if the PDF cannot be parsed. */
  cutAtBytes?: number;
  signal?: AbortSignal;
}

// Minimal shapes of the PDF.js objects used (unpdf's own types reference @napi-rs/canvas, an optional peer).
interface TextItemLike {
  str?: string;
  hasEOL?: boolean;
}
interface PageLike {
  getTextContent(): Promise<{ items: TextItemLike[] }>;
  cleanup(): unknown;
}
interface DocumentLike {
  numPages: number;
  getPage(n: number): Promise<PageLike>;
  getMetadata(): Promise<{ info?: unknown }>;
  destroy(): Promise<void>;
}
interface UnpdfLike {
  getDocumentProxy(data: Uint8Array, options?: Record<string, unknown>): Promise<DocumentLike>;
}

let loaded: Promise<UnpdfLike> | undefined;

/** Loads unpdf on first use (its PDF.js bundle is 1.6 MB; workers that never meet a PDF don't load it). */
function unpdf(): Promise<UnpdfLike> {
  loaded ??= import('unpdf').then((m) => m as unknown as UnpdfLike);
  return loaded.catch((err: unknown) => {
    loaded = undefined;
    throw new PdfReadError(`PDF support (unpdf) failed to load: ${err instanceof Error ? err.message : String(err)}`);
  });
}

function describeOpenError(err: unknown, cutAtBytes: number | undefined): string {
  const e = err as { name?: unknown; message?: unknown };
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const cut = cutAtBytes !== undefined
    ? `the file is larger than ${cutAtBytes.toLocaleString('en-US')} bytes and was cut there (raise environment_kwargs.web_visit_max_bytes to read it)`
    : '';
  if (name === 'PasswordException') return 'it is encrypted (password-protected)';
  if (cut) return cut;
  if (name === 'InvalidPDFException') return `invalid or corrupt PDF structure (${message})`;
  return `${name ? `${name}: ` : ''}${message}`.slice(0, 200);
}

function pageText(items: TextItemLike[]): string {
  let out = '';
  for (const item of items) {
    if (typeof item.str === 'string') out += item.str;
    if (item.hasEOL) out += '\n';
  }
  return out
    .replace(/[ \t\u00a0]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Extracts the text of the PDF in `data` (not modified). Reads pages in order until `maxPages` pages or
 * `maxChars` characters. Throws PdfReadError when the PDF cannot be opened (password, corrupt, cut short) or
 * has no text in the pages read (scanned images only), or when `signal` aborts.
 */
export async function pdfToText(data: Buffer, opts: PdfOptions): Promise<PdfText> {
  const lib = await unpdf();
  const maxPages = Math.max(1, opts.maxPages ?? PDF_MAX_PAGES);
  let doc: DocumentLike;
  try {
    // PDF.js takes ownership of (detaches) the array it is given: pass a copy.
    doc = await lib.getDocumentProxy(new Uint8Array(data), {
      verbosity: 0,
      isEvalSupported: false,
      useSystemFonts: false,
      disableFontFace: true,
      stopAtErrors: false,
    });
  } catch (err) {
    throw new PdfReadError(describeOpenError(err, opts.cutAtBytes));
  }
  try {
    let title = '';
    try {
      const info = (await doc.getMetadata()).info as { Title?: unknown } | undefined;
      if (typeof info?.Title === 'string') title = info.Title.replace(/\s+/g, ' ').trim().slice(0, 300);
    } catch {
      /* metadata is optional */
    }
    const parts: string[] = [];
    let chars = 0;
    let pagesRead = 0;
    let truncated = false;
    let pageError: unknown;
    for (let n = 1; n <= doc.numPages; n++) {
      if (opts.signal?.aborted) throw new PdfReadError('reading was cancelled');
      if (n > maxPages || chars >= opts.maxChars) {
        truncated = true;
        break;
      }
      let text: string;
      try {
        const page = await doc.getPage(n);
        text = pageText((await page.getTextContent()).items);
        page.cleanup();
      } catch (err) {
        pageError ??= err; // one broken page does not lose the others
        text = '';
      }
      pagesRead++;
      if (text) {
        parts.push(text);
        chars += text.length + 2;
      }
    }
    let text = parts.join('\n\n');
    if (text.length > opts.maxChars) {
      text = text.slice(0, opts.maxChars);
      truncated = true;
    }
    if (!text.trim() && pageError !== undefined) throw new PdfReadError(describeOpenError(pageError, opts.cutAtBytes));
    if (!text.trim()) {
      const pages = `${pagesRead === doc.numPages ? '' : `the first ${pagesRead} of `}${doc.numPages} page${doc.numPages === 1 ? '' : 's'}`;
      throw new PdfReadError(`no text layer in ${pages} (scanned images only?)`);
    }
    return { title, text, pages: doc.numPages, pagesRead, truncated };
  } finally {
    await doc.destroy().catch(() => undefined);
  }
}
