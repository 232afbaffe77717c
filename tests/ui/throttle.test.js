import { test } from "node:test";
import assert from "node:assert/strict";
import { createThrottle } from "../../ui/js/lib/throttle.js";

// A manual clock: timers fire only when the test advances time.
function fakeClock() {
  let t = 0;
  let timers = [];
  let nextId = 1;
  return {
    now: () => t,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.push({ id, at: t + ms, fn });
      return id;
    },
    clearTimeout(id) {
      timers = timers.filter((x) => x.id !== id);
    },
    advance(ms) {
      const end = t + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.fn();
      }
      t = end;
    },
  };
}

test("first value goes out at once", () => {
  const sent = [];
  const th = createThrottle((v) => sent.push(v), 100, fakeClock());
  th.push(5);
  assert.deepEqual(sent, [5]);
});

test("a burst sends the first now and only the last one later", () => {
  const clock = fakeClock();
  const sent = [];
  const th = createThrottle((v) => sent.push(v), 100, clock);
  for (let v = 1; v <= 10; v++) {
    th.push(v);
    clock.advance(5);
  }
  assert.deepEqual(sent, [1]);
  clock.advance(100);
  assert.deepEqual(sent, [1, 10]);
  clock.advance(1000);
  assert.deepEqual(sent, [1, 10], "nothing more without new values");
});

test("a long drag sends at most one value per interval and ends on the last", () => {
  const clock = fakeClock();
  const sent = [];
  const times = [];
  const th = createThrottle(
    (v) => {
      sent.push(v);
      times.push(clock.now());
    },
    100,
    clock,
  );
  for (let v = 0; v <= 200; v++) {
    th.push(v);
    clock.advance(7);
  }
  clock.advance(200);
  assert.equal(sent.at(-1), 200);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 100);
  assert.ok(sent.length <= Math.ceil((201 * 7) / 100) + 1);
});

test("flush sends the waiting value immediately, once", () => {
  const clock = fakeClock();
  const sent = [];
  const th = createThrottle((v) => sent.push(v), 100, clock);
  th.push(1);
  th.push(2);
  th.push(3);
  th.flush();
  assert.deepEqual(sent, [1, 3]);
  clock.advance(500);
  assert.deepEqual(sent, [1, 3]);
});

test("cancel drops the waiting value (emergency stop)", () => {
  const clock = fakeClock();
  const sent = [];
  const th = createThrottle((v) => sent.push(v), 100, clock);
  th.push(1);
  th.push(150);
  assert.equal(th.pending, true);
  th.cancel();
  clock.advance(500);
  assert.deepEqual(sent, [1]);
  assert.equal(th.pending, false);
  th.flush();
  assert.deepEqual(sent, [1], "flush after cancel sends nothing");
});
