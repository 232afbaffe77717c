// Mounts each component on its element; nothing else.

import { backend } from "./backend.js";
import { QrPanel } from "./QrPanel.js";
import { ConnectionTable } from "./ConnectionTable.js";
import { StrengthSliders } from "./StrengthSliders.js";
import { EmergencyStop } from "./EmergencyStop.js";

const $ = (sel) => document.querySelector(sel);

const estop = new EmergencyStop($(".emergency-stop"));
new QrPanel($(".qr-panel"));
new StrengthSliders($(".strength-sliders"));
new ConnectionTable($(".connection-table"));

backend.appInfo().then((info) => {
  estop.setShortcuts(info.shortcuts);
  $("#version").textContent = `v${info.version}`;
});
