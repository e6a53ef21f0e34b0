export interface V2IdempotencyRecord {
  fingerprint: string;
  state: 'in-flight' | 'done';
  httpStatus: number;
  body: unknown;
  at: number;
}

/** The cancel answers kept per Idempotency-Key, scoped to the API secret as PortOne scopes them. */
export class V2IdempotencyStore {
  private readonly records = new Map<string, V2IdempotencyRecord>();

  static scopeOf(apiSecret: string, key: string): string {
    return `${apiSecret}\u0000${key}`;
  }

  /** The record kept for `scope`, unless it is older than `retentionMs` (then it is forgotten). */
  find(scope: string, nowMs: number, retentionMs: number): V2IdempotencyRecord | undefined {
    const existing = this.records.get(scope);
    if (existing && nowMs - existing.at > retentionMs) this.records.delete(scope);
    return this.records.get(scope);
  }

  /** Holds the key while its request is processed, so a concurrent reuse answers 409. */
  begin(scope: string, fingerprint: string, nowMs: number): void {
    this.records.set(scope, { fingerprint, state: 'in-flight', httpStatus: 0, body: null, at: nowMs });
  }

  /** Keeps the answer for replay; with `success-only`, an error answer frees the key instead. */
  complete(scope: string, httpStatus: number, body: unknown, nowMs: number, replay: 'all' | 'success-only' | undefined): void {
    const kept = this.records.get(scope);
    if (!kept) return;
    if (replay === 'success-only' && httpStatus >= 300) {
      this.records.delete(scope);
      return;
    }
    Object.assign(kept, { state: 'done', httpStatus, body, at: nowMs });
  }

  forget(scope: string): void {
    this.records.delete(scope);
  }

  clear(): void {
    this.records.clear();
  }
}

/** RFC 8941 sf-string (`"..."`, `\"` and `\\` escapes, printable ASCII); null when malformed. */
export function parseSfString(raw: string): string | null {
  const match = /^\s*"((?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"\s*$/.exec(raw);
  return match ? match[1].replace(/\\(["\\])/g, '$1') : null;
}
