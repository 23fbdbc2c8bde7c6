import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeText, looksLikeHtml, looksLikeJson, sniffBody } from '../../src/tools/net/sniff';

describe('sniffBody', () => {
  it('recognises empty bodies, PDFs and binary signatures whatever the content type', () => {
    assert.deepEqual(sniffBody(Buffer.alloc(0)), { kind: 'empty' });
    assert.deepEqual(sniffBody(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj', 'latin1')), { kind: 'pdf' });
    // Junk before the header is accepted (PDF readers search the first 1,024 bytes) …
    assert.deepEqual(sniffBody(Buffer.from('\r\n\r\n%PDF-1.4\n')), { kind: 'pdf' });
    // … but not markup: an HTML page that quotes a PDF header is text.
    assert.deepEqual(sniffBody(Buffer.from('<html><body><p>A PDF starts with %PDF-1.7</p></body></html>')), { kind: 'text' });
    const cases: Array<[number[] | string, string]> = [
      [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13], 'a PNG image'],
      [[0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'a JPEG image'],
      ['GIF89a\x01\x00', 'a GIF image'],
      ['RIFF\x24\x00\x00\x00WEBPVP8 ', 'a WebP image'],
      ['\x00\x00\x00\x18ftypmp42', 'an MP4/QuickTime media file'],
      ['PK\x03\x04\x14\x00\x06\x00', 'a ZIP archive (or .docx/.xlsx/.epub)'],
      [[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0], 'gzip-compressed data'],
      ['\x7fELF\x02\x01\x01', 'an ELF executable'],
    ];
    for (const [bytes, what] of cases) {
      const body = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
      assert.deepEqual(sniffBody(body), { kind: 'binary', what }, what);
    }
  });

  it('calls bodies with NUL bytes or many control bytes binary, unless they are UTF-16', () => {
    assert.deepEqual(sniffBody(Buffer.from('text\x00more', 'latin1')), { kind: 'binary', what: 'binary data' });
    assert.deepEqual(sniffBody(Buffer.from('a\x01b\x02c\x03d\x04e\x05f\x06g\x07', 'latin1')), { kind: 'binary', what: 'binary data' });
    // One stray control byte in a page of text is tolerated (≤ 2%).
    assert.deepEqual(sniffBody(Buffer.from(`${'plain words '.repeat(20)}\x1a${'more words '.repeat(20)}`, 'latin1')), { kind: 'text' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<p>hello</p>', 'utf16le')]);
    assert.deepEqual(sniffBody(utf16), { kind: 'text' });
    assert.deepEqual(sniffBody(Buffer.from('<p>hello</p>', 'utf16le'), 'utf-16le'), { kind: 'text' });
  });
});

describe('decodeText', () => {
  it('uses the declared charset, ignores a UTF-16 label on 8-bit text, and falls back to windows-1252', () => {
    assert.deepEqual(decodeText(Buffer.from('héllo', 'utf8'), 'utf-8'), { text: 'héllo', charset: 'utf-8' });
    assert.deepEqual(decodeText(Buffer.from([0x82, 0xa0]), 'shift_jis'), { text: 'あ', charset: 'shift_jis' });
    assert.equal(decodeText(Buffer.from('<p>ascii</p>'), 'utf-16').text, '<p>ascii</p>');
    assert.equal(decodeText(Buffer.from('<p>wide</p>', 'utf16le'), 'utf-16le').text, '<p>wide</p>');
    // windows-1252 bytes: undeclared, declared UTF-8 wrongly, or with an unknown label.
    const cp1252 = Buffer.from('Caf\xe9 M\xfcller, 5 \x80', 'latin1');
    for (const label of [null, 'utf-8', 'x-no-such-charset']) {
      assert.deepEqual(decodeText(cp1252, label), { text: 'Café Müller, 5 €', charset: 'windows-1252' }, String(label));
    }
  });
});

describe('looksLikeHtml / looksLikeJson', () => {
  it('tells markup and JSON from plain text', () => {
    assert.equal(looksLikeHtml('<!DOCTYPE html><title>x</title>'), true);
    assert.equal(looksLikeHtml('intro text <p>para</p>'), true);
    assert.equal(looksLikeHtml('a < b and b > c; use x<y'), false);
    assert.equal(looksLikeHtml('The Jacquard loom, patented in 1804.'), false);
    assert.equal(looksLikeJson(' {"a": [1, 2]} '), true);
    assert.equal(looksLikeJson('[1, 2'), false);
    assert.equal(looksLikeJson('plain'), false);
  });
});
