/**
 * A JSONL file written atomically: lines go to a temp file next to it (one `JSON.stringify` per record, written in
 * chunks of ~1 MiB), which `commit` fsyncs and renames into place; `discard` removes it. Readers never see a
 * half-written file. Used by writeOutputs and `qasynth export`.
 */
import fs from 'node:fs';

/** Writes JSONL lines to `file` atomically, one `JSON.stringify` per record, in writes of ~1 MiB. */
export class AtomicLines {
  private fd: number;
  private readonly tmp: string;
  private buffer: string[] = [];
  private buffered = 0;
  count = 0;
  constructor(readonly file: string) {
    this.tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
    this.fd = fs.openSync(this.tmp, 'w');
  }
  write(record: unknown): void {
    const line = `${JSON.stringify(record)}\n`;
    this.buffer.push(line);
    this.buffered += line.length;
    this.count += 1;
    if (this.buffered >= 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.buffer.length) fs.writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    this.buffered = 0;
  }
  commit(): void {
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }
  /** Removes the temp file (an attempt that failed half-way). */
  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
    fs.rmSync(this.tmp, { force: true });
  }
}
