/** How the text of one configuration variable becomes its value (or a problem that names the variable). */

export const JWT_SECRET_MIN_LENGTH = 32;
export const JWT_SECRET_MIN_DISTINCT = 10;
/** A run this long repeated, or counting up or down, is a pattern a person typed, not randomness. */
export const JWT_SECRET_PATTERN_RUN = 10;

/**
 * HS256 wants 256 bits of key. Length alone lets "aaaa…", "abcabc…", "test-secret-test-secret-…" or
 * "0123456789abcdefghij…" through, so the secret must also use at least JWT_SECRET_MIN_DISTINCT different
 * characters and contain no run of JWT_SECRET_PATTERN_RUN characters that repeats or counts in steps of one.
 * A random hex or base64 secret of 32+ characters passes (a 10-character coincidence in 96 random hex
 * characters has odds of about 1 in 300 million). The message never quotes the secret: it goes to the log.
 */
export function jwtSecretWeakness(secret: string): string | null {
  const suggestion = 'use a random secret such as `openssl rand -base64 48`';
  if (secret.length < JWT_SECRET_MIN_LENGTH) {
    return `must be at least ${JWT_SECRET_MIN_LENGTH} characters long (HS256 needs a 256-bit secret; try \`openssl rand -base64 48\`)`;
  }
  const distinct = new Set(secret).size;
  if (distinct < JWT_SECRET_MIN_DISTINCT) {
    return `must contain at least ${JWT_SECRET_MIN_DISTINCT} different characters (has ${distinct}); ${suggestion}`;
  }
  if (hasRepeatedRun(secret, JWT_SECRET_PATTERN_RUN)) {
    return `must not repeat a run of ${JWT_SECRET_PATTERN_RUN} characters (it looks typed, not random); ${suggestion}`;
  }
  if (hasCountingRun(secret, JWT_SECRET_PATTERN_RUN)) {
    return `must not contain ${JWT_SECRET_PATTERN_RUN} characters counting up or down such as "0123456789" (it looks typed, not random); ${suggestion}`;
  }
  return null;
}

function hasRepeatedRun(text: string, length: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + length <= text.length; i++) {
    const run = text.slice(i, i + length);
    if (seen.has(run)) return true;
    seen.add(run);
  }
  return false;
}

function hasCountingRun(text: string, length: number): boolean {
  let run = 1;
  let step = 0;
  for (let i = 1; i < text.length; i++) {
    const next = text.charCodeAt(i) - text.charCodeAt(i - 1);
    run = (next === 1 || next === -1) && next === step ? run + 1 : next === 1 || next === -1 ? 2 : 1;
    step = next;
    if (run >= length) return true;
  }
  return false;
}

export function parseBool(raw: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

/** `true`/`false`, a hop count, or a comma-separated list of proxy addresses or CIDRs. */
export function parseTrustProxy(raw: string | undefined, problems: string[]): boolean | number | string[] {
  if (raw === undefined || ['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  if (['true', 'yes'].includes(raw.toLowerCase())) return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length > 0 && entries.every((entry) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(entry))) return entries;
  problems.push(`TRUST_PROXY must be true, false, a hop count or comma-separated proxy addresses/CIDRs (got "${raw}")`);
  return false;
}

/**
 * One signing secret, or two separated by a comma while the console rotates them; `whsec_` prefix
 * optional, the rest base64. The secrets themselves never appear in a message.
 */
export function parseWebhookSecrets(raw: string | undefined, problems: string[]): string[] | null {
  if (raw === undefined) return null;
  const secrets = raw.split(',').map((secret) => secret.trim()).filter((secret) => secret !== '');
  if (secrets.length === 0 || secrets.length > 2) {
    problems.push(`PORTONE_WEBHOOK_SECRET must be one signing secret, or two separated by a comma during a rotation (got ${secrets.length})`);
    return null;
  }
  for (const [index, secret] of secrets.entries()) {
    const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length < 16) {
      problems.push(`PORTONE_WEBHOOK_SECRET: secret ${index + 1} is not a console signing secret (base64, \`whsec_\` prefix optional)`);
      return null;
    }
  }
  return secrets;
}

/**
 * A comma-separated list of exact origins, as browsers send them in the Origin header. A wildcard is
 * refused: an API that takes bearer tokens should name the frontends it serves.
 */
export function parseOrigins(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [];
  const origins: string[] = [];
  for (const entry of raw.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    let origin: string | null = null;
    try {
      const parsed = new URL(entry);
      if (['http:', 'https:'].includes(parsed.protocol) && !entry.includes('*') && parsed.origin === entry.replace(/\/+$/, '')) origin = parsed.origin;
    } catch {
      origin = null;
    }
    if (origin === null) problems.push(`CORS_ORIGINS entries must be origins like https://shop.example (got "${entry}")`);
    else origins.push(origin);
  }
  return origins;
}

/** Never echo a password from a URL back into logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
