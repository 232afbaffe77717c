// The phone remote: every action is one API call; the server clamps to the caps and
// refuses everything while the emergency stop is latched. Nothing here decides safety.
import { api, clientId, gamePath, setToken, token } from "/web/common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;
const v2 = (rest) => "/api/v2/game/" + encodeURIComponent(clientId()) + rest;
let last = null;

function say(text) {
  $("msg").textContent = text;
}

function answer(r, done) {
  if (r.http === 401) {
    $("token-form").hidden = false;
    return say("This device needs the API token.");
  }
  if (!r.body) return say("No answer (HTTP " + r.http + ").");
  say(r.body.status === 1 ? done : r.body.message || r.body.code);
}

async function setChannel(ch, value) {
  const max = last ? last.max[ch] : 0;
  const v = Math.max(0, Math.min(200, value));
  const r = await api("POST", gamePath("/channel"), { channel: ch, strength: v });
  answer(r, ch.toUpperCase() + " → " + Math.min(v, max));
  refresh();
}

function current(ch) {
  if (!last) return 0;
  return ch === "a" ? last.strengthConfig.strength : last.strength.b;
}

function draw(g) {
  last = g;
  $("conn").textContent = !g
    ? "No game."
    : g.stopped
      ? "Emergency stop latched: re-arm in DG-LAB Hub."
      : g.connected
        ? "App paired" + (g.output ? ", game output on." : ", game output off.")
        : "Waiting for the App.";
  document.body.dataset.stopped = g && g.stopped ? "1" : "0";
  for (const ch of ["a", "b"]) {
    $(ch + "-now").textContent = g ? String(g.strength[ch]) : "–";
    $(ch + "-max").textContent = g ? String(g.max[ch]) : "–";
    const range = $(ch + "-range");
    range.max = g ? String(g.max[ch]) : "0";
    if (document.activeElement !== range) range.value = String(current(ch));
  }
  $("a-set").textContent = g ? String(g.strengthConfig.strength) : "–";
  $("b-range").disabled = $("b-up").disabled = $("b-down").disabled = !!(g && g.bFollowsA);
}

async function refresh() {
  try {
    const r = await api("GET", gamePath("/status"));
    if (r.http === 401) $("token-form").hidden = false;
    draw(r.body && r.body.status === 1 ? r.body.game : null);
  } catch (_) {
    draw(null);
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, POLL_MS);
}

async function loadPulses() {
  const r = await api("GET", v2("/pulse_list"));
  const sel = $("pulse");
  sel.replaceChildren();
  for (const p of (r.body && r.body.pulseList) || []) {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = p.name;
    sel.append(o);
  }
  const cur = await api("GET", v2("/pulse"));
  if (cur.body && cur.body.currentPulseId) sel.value = cur.body.currentPulseId;
}

for (const ch of ["a", "b"]) {
  $(ch + "-up").addEventListener("click", () => setChannel(ch, current(ch) + 1));
  $(ch + "-down").addEventListener("click", () => setChannel(ch, current(ch) - 1));
  $(ch + "-range").addEventListener("change", (e) => setChannel(ch, Number(e.target.value)));
}

$("pulse").addEventListener("change", async (e) => {
  answer(await api("POST", v2("/pulse"), { pulseId: e.target.value }), "Pulse set.");
});

$("fire").addEventListener("click", async () => {
  const strength = Number($("fire-strength").value) || 0;
  const time = Math.round((Number($("fire-time").value) || 0) * 1000);
  answer(await api("POST", v2("/action/fire"), { strength, time }), "Fire +" + strength + ".");
  refresh();
});

$("stop").addEventListener("click", async () => {
  const r = await api("POST", "/api/x/stop");
  answer(r, "Stopped. Re-arm in DG-LAB Hub.");
  refresh();
});

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("token").value.trim());
  $("token-form").hidden = true;
  loadPulses();
  refresh();
});

token();
loadPulses();
poll();
