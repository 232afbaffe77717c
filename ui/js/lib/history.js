// Undo/redo for the waveform editor: a bounded list of snapshots. Snapshots are kept as
// JSON text, so later mutation of an object handed in can never change the history.

export function createHistory(initial, limit = 200) {
  let past = [];
  let present = JSON.stringify(initial);
  let future = [];
  return {
    /** The current state (a fresh copy). */
    get current() {
      return JSON.parse(present);
    },
    get canUndo() {
      return past.length > 0;
    },
    get canRedo() {
      return future.length > 0;
    },
    /** Records a new state; an identical one is not recorded twice. Clears redo. */
    push(state) {
      const next = JSON.stringify(state);
      if (next === present) return false;
      past.push(present);
      if (past.length > limit) past.shift();
      present = next;
      future = [];
      return true;
    },
    /** Replaces the whole history (a preset was loaded). */
    reset(state) {
      past = [];
      future = [];
      present = JSON.stringify(state);
    },
    undo() {
      if (!past.length) return null;
      future.push(present);
      present = past.pop();
      return JSON.parse(present);
    },
    redo() {
      if (!future.length) return null;
      past.push(present);
      present = future.pop();
      return JSON.parse(present);
    },
  };
}
