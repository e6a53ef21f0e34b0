import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import { AppError, forbidden, unauthenticated } from '../errors';

/** Who is calling: a buyer (possibly an admin), a partner (API key), or nobody. */
export type Viewer =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; isAdmin: boolean }
  | { kind: 'partner'; partnerId: string; eventIds: string[] };

export const ANONYMOUS: Viewer = Object.freeze({ kind: 'anonymous' });

export function requireUser(viewer: Viewer): { userId: string; isAdmin: boolean } {
  if (viewer.kind === 'user') return viewer;
  if (viewer.kind === 'partner') throw forbidden('Partner API keys can only read booking status');
  throw unauthenticated();
}

export function requirePartner(viewer: Viewer): { partnerId: string; eventIds: string[] } {
  if (viewer.kind === 'partner') return viewer;
  if (viewer.kind === 'user') throw forbidden('Booking status is read with a partner API key (X-API-Key)');
  throw unauthenticated('Send the partner API key in the X-API-Key header');
}

export function isAdmin(viewer: Viewer): boolean {
  return viewer.kind === 'user' && viewer.isAdmin;
}

export function requireAdmin(viewer: Viewer): { userId: string } {
  const user = requireUser(viewer);
  if (!user.isAdmin) throw forbidden('This operation needs the admin role');
  return user;
}

/** Clock difference tolerated between the token issuer and us, for `iat` and `exp`. */
export const JWT_CLOCK_SKEW_SECONDS = 60;

/**
 * HS256 JWTs signed with JWT_SECRET (DESIGN §6): `sub` is the buyer id, `roles: ["admin"]` marks an admin.
 * A token must say when it was issued and when it expires, and live at most `maxLifetimeSeconds`: a leaked
 * token without `exp` would otherwise be valid forever, and a future `iat` would stretch its life.
 */
export class JwtIdentity {
  private readonly key: Uint8Array;
  private readonly maxLifetimeSeconds: number;
  /**
   * Tokens already verified, by their full text (signature included), until the moment they stop being
   * valid: a buyer sends the same token with every call, and verifying it (WebCrypto, all promises) was a
   * measurable share of a confirm's CPU.
   */
  private readonly verified = new LRUCache<string, { viewer: Viewer; validUntilSeconds: number }>({ max: 10_000 });

  private readonly nowMs: () => number;

  constructor(secret: string, options: { maxLifetimeSeconds?: number; nowMs?: () => number } = {}) {
    this.key = new TextEncoder().encode(secret);
    this.maxLifetimeSeconds = options.maxLifetimeSeconds ?? 30 * 86400;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** `expiresIn` as jose takes it ("1h", "-1m"); by default the longest lifetime accepted. */
  async sign(subject: string, options: { roles?: string[]; expiresIn?: string } = {}): Promise<string> {
    const now = Math.floor(this.nowMs() / 1000);
    return new SignJWT({ roles: options.roles ?? [] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(options.expiresIn ?? now + this.maxLifetimeSeconds)
      .sign(this.key);
  }

  /** Resolves the Authorization header; a present but unusable token is an error, never "anonymous". */
  async viewerFromAuthorization(header: string | undefined): Promise<Viewer> {
    if (header === undefined || header.trim() === '') return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
    const known = this.verified.get(match[1]);
    if (known && this.nowMs() / 1000 < known.validUntilSeconds) return known.viewer;
    try {
      const { payload } = await jwtVerify(match[1], this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'iat'],
        // Also refuses an `iat` in the future (beyond the skew) and a token older than the lifetime.
        maxTokenAge: this.maxLifetimeSeconds,
        clockTolerance: JWT_CLOCK_SKEW_SECONDS,
        currentDate: new Date(this.nowMs()),
      });
      if (payload.exp! - payload.iat! > this.maxLifetimeSeconds) {
        throw unauthenticated(`The token lives longer than ${Math.round(this.maxLifetimeSeconds / 86400)} days (exp − iat)`);
      }
      // A NUL could not be stored as a buyer id (PostgreSQL text), so such a subject is no identity.
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200 || payload.sub.includes('\u0000')) {
        throw unauthenticated('The token has no usable subject (sub)');
      }
      const roles = Array.isArray(payload.roles) ? payload.roles : [];
      const viewer: Viewer = Object.freeze({ kind: 'user', userId: payload.sub, isAdmin: roles.includes('admin') });
      // The same limits jose applied: `exp` and the longest age, each with the clock skew tolerated.
      const validUntilSeconds = Math.min(payload.exp!, payload.iat! + this.maxLifetimeSeconds) + JWT_CLOCK_SKEW_SECONDS;
      this.verified.set(match[1], { viewer, validUntilSeconds });
      return viewer;
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        throw unauthenticated(
          error.claim === 'iat' && error.reason === 'check_failed'
            ? 'The token is issued in the future (iat)'
            : `The token's "${error.claim}" claim is missing or invalid`,
        );
      }
      throw unauthenticated('The token is invalid');
    }
  }
}
