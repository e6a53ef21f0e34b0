import fc from 'fast-check';
import { JWT_CLOCK_SKEW_SECONDS, JwtIdentity } from '../../src/auth/identity';

// Clocks start at the real time: jose turns a relative `expiresIn` ("10s") into a time from its own clock.

/**
 * Verified tokens are remembered (a buyer sends the same one with every call), but never past the moment
 * verifying would refuse them: the remembered answer must always equal a fresh verification's.
 */
const SECRET = 'unit-secret-unit-secret-unit-secret-0123456789';

async function outcome(identity: JwtIdentity, token: string): Promise<string> {
  try {
    const viewer = await identity.viewerFromAuthorization(`Bearer ${token}`);
    return viewer.kind === 'user' ? `user:${viewer.userId}:${viewer.isAdmin}` : viewer.kind;
  } catch (error) {
    return `refused:${(error as Error).message}`;
  }
}

test('a remembered token answers exactly as a fresh verification would, at every later moment', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 * 3600 }),
      fc.array(fc.integer({ min: 0, max: 4 * 3600 }), { minLength: 1, maxLength: 6 }),
      async (lifetimeSeconds, laterSeconds) => {
        const start = Date.now();
        let now = start;
        const remembering = new JwtIdentity(SECRET, { maxLifetimeSeconds: 3600, nowMs: () => now });
        const token = await remembering.sign('buyer-1', { expiresIn: `${lifetimeSeconds}s` });
        await outcome(remembering, token);
        for (const later of [...laterSeconds].sort((a, b) => a - b)) {
          now = start + later * 1000;
          const fresh = new JwtIdentity(SECRET, { maxLifetimeSeconds: 3600, nowMs: () => now });
          expect(await outcome(remembering, token)).toBe(await outcome(fresh, token));
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('an expired token is refused although it was accepted (and remembered) before', async () => {
  let now = Date.now();
  const identity = new JwtIdentity(SECRET, { nowMs: () => now });
  const token = await identity.sign('buyer-2', { expiresIn: '10s' });
  expect(await outcome(identity, token)).toBe('user:buyer-2:false');
  now += (10 + JWT_CLOCK_SKEW_SECONDS + 1) * 1000;
  expect(await outcome(identity, token)).toBe('refused:The token has expired');
});
