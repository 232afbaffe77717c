// The OBS overlay: read-only, polls the game's status twice a second and draws it.
import { api, gamePath } from "/web/common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;

function draw(g) {
  const root = $("overlay");
  root.dataset.state = !g ? "offline" : g.stopped ? "stopped" : g.connected ? "live" : "offline";
  for (const ch of ["a", "b"]) {
    const v = g && g.connected ? g.strength[ch] : null;
    $(ch + "-value").textContent = v === null ? "–" : String(v);
    const max = g ? Math.max(1, g.max[ch]) : 1;
    $(ch + "-bar").style.width = v === null ? "0%" : Math.min(100, (100 * v) / max) + "%";
  }
  const fire = g && g.fire;
  $("fire").hidden = !fire;
  $("fire-boost").textContent = fire ? "+" + fire.boost : "";
  $("stopped").hidden = !(g && g.stopped);
}

async function poll() {
  try {
    const r = await api("GET", gamePath("/status"));
    draw(r.body && r.body.status === 1 ? r.body.game : null);
  } catch (_) {
    draw(null);
  }
  setTimeout(poll, POLL_MS);
}

poll();
