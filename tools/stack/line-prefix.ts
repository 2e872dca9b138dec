import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a child's output into lines and writes each with a prefix ("[nats] ").
 * Multi-byte characters split across chunks survive (StringDecoder); a line with
 * no newline for `maxLineChars` is written anyway so memory stays bounded.
 */
export class LinePrefixer {
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
    private readonly maxLineChars = 64 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    const lines = (this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length >= this.maxLineChars) {
      lines.push(this.partial);
      this.partial = '';
    }
    if (lines.length) this.write(lines.map((l) => this.format(l)).join(''));
  }

  /** Writes what is left without a final newline (the child exited mid-line). */
  flush(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.write(this.format(rest));
  }

  private format(line: string): string {
    return `${this.prefix}${line.replace(/\r$/, '')}\n`;
  }
}
