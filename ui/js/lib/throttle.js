// Throttle for slider drags: at most one send per interval, and the last value is always
// sent. The clock is injectable so the timing is unit-tested without real timers.

const realClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * @param {(value: any) => void} send called with the values that go out
 * @param {number} intervalMs smallest gap between two sends
 * @param {{now(): number, setTimeout(fn: () => void, ms: number): any, clearTimeout(id: any): void}} [clock]
 */
export function createThrottle(send, intervalMs, clock = realClock) {
  let lastSent = -Infinity;
  let timer = null;
  let pending = false;
  let value;

  function fire() {
    timer = null;
    if (!pending) return;
    pending = false;
    lastSent = clock.now();
    send(value);
  }

  return {
    /** Offers a value: sent now if the interval has passed, else when it does (latest wins). */
    push(v) {
      value = v;
      pending = true;
      if (timer !== null) return;
      const wait = lastSent + intervalMs - clock.now();
      if (wait <= 0) fire();
      else timer = clock.setTimeout(fire, wait);
    },
    /** Sends the waiting value now (the drag ended). */
    flush() {
      if (timer !== null) clock.clearTimeout(timer);
      fire();
    },
    /** Drops the waiting value: after an emergency stop nothing queued may go out. */
    cancel() {
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      pending = false;
    },
    /** Whether a value is waiting. */
    get pending() {
      return pending;
    },
  };
}
