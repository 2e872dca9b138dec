/** Where a build step writes what dockerd's builder would print (Stdout, Stderr and the raw Output). */
export interface StepOutput {
  /** `{"stream": text}` (dockerd's StdoutFormatter). */
  stdout(text: string): Promise<void>;
  /** stderr of a step: `{"stream": "\u001b[91m…\u001b[0m"}`. */
  stderr(text: string): Promise<void>;
  /** A JSON message as is (pull and download progress). */
  raw(msg: Record<string, unknown>): Promise<void>;
  /** `Step n/m : text`. */
  stepLine(step: number, total: number, text: string): Promise<void>;
  /** ` ---> <id12>` closing a step. */
  stepDone(step: number, imageId: string): Promise<void>;
  /** `{"aux":{"ID": id}}` after a stage. */
  aux(step: number, imageId: string): Promise<void>;
}

/** stringid.TruncateID: the 12 hex after "sha256:". */
export function shortId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}
