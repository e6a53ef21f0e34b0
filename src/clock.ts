/** Time as the domain sees it; tests pass a controllable one to reach expiry edges without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
