/** A fake clock: `sleep` advances time at once, so pacing and Retry-After cost no real seconds. */
export function createFakeClock(startMs = 0) {
  let t = startMs;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
    sleeps,
  };
}
export type FakeClock = ReturnType<typeof createFakeClock>;
