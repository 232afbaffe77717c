// Mounts each component on its element, and words the page's own labels; nothing else.

import { backend } from "./backend.js";
import { setLanguage, t, words } from "./lib/i18n.js";
import { notify } from "./lib/dom.js";
import { EmergencyStop } from "./EmergencyStop.js";
import { QrPanel } from "./QrPanel.js";
import { StrengthSliders } from "./StrengthSliders.js";
import { ConnectionTable } from "./ConnectionTable.js";
import { FeedbackList } from "./FeedbackList.js";
import { WaveformEditor } from "./WaveformEditor.js";
import { PresetPanel } from "./PresetPanel.js";
import { SettingsDialog } from "./SettingsDialog.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import { Toasts } from "./Toasts.js";
import { PairingStatus } from "./PairingStatus.js";
import { applyTheme, rememberPrefs } from "./lib/prefs.js";
import { SafetyLog } from "./SafetyLog.js";
import { PhoneCheck } from "./PhoneCheck.js";
import { DoctorPanel } from "./DoctorPanel.js";
import { Inspector } from "./Inspector.js";
import { VirtualApp } from "./VirtualApp.js";
import { GamesPanel } from "./GamesPanel.js";
import { V4AppTable } from "./V4AppTable.js";

const $ = (sel) => document.querySelector(sel);

// The settings with their ranges, the pattern model's limits, the watchdog's lease: the
// backend's, not ours.
const [{ settings, limits: settingsLimits }, limits, info] = await Promise.all([backend.getSettings(), backend.patternLimits(), backend.appInfo()]);
setLanguage(settings.language);
document.documentElement.lang = settings.language === "zh" ? "zh-CN" : "en";
// The theme and language are remembered so the next start-up state is drawn in them.
applyTheme(document.documentElement, settings.theme);
rememberPrefs(window.localStorage, settings);
backend.setWindowTheme(settings.theme).catch((e) => console.warn("theme:", e));
// The page's own labels name their keys (data-i18n-aria-label); the components word theirs.
for (const el of document.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));

new Toasts($(".toasts"));
const estop = new EmergencyStop($(".emergency-stop"), info.lease_ms);
new QrPanel($(".qr-panel"));
new StrengthSliders($(".strength-sliders"), settings, settingsLimits);
const editor = new WaveformEditor($(".waveform-editor"), limits);
const presets = new PresetPanel($(".preset-panel"), editor, new ConfirmDialog($(".confirm-dialog")));
new FeedbackList($(".feedback-list"));
new SafetyLog($(".safety-log"));
new VirtualApp($(".virtual-app"), settingsLimits);
new GamesPanel($(".games-panel"));
new ConnectionTable($(".connection-table"));
new V4AppTable($(".v4-apps"));
new PairingStatus($("#pairing-status"));
// Pairing doctor, phone test and protocol inspector (issue 14).
new PhoneCheck($(".phone-check"));
new DoctorPanel($(".doctor-panel"));
new Inspector($(".inspector"));
const settingsDialog = new SettingsDialog($(".settings-dialog"), settingsLimits, { beforeReload: () => presets.stash() });
const restored = presets.restore();
$("#open-settings").textContent = "⚙ " + t("app.settings");
$("#open-settings").addEventListener("click", () => settingsDialog.open());

estop.setShortcuts(info.shortcuts);
$("#version").textContent = `v${info.version}`;
for (const n of info.notices) notify(words(n), "error");
// Presets set aside at start are said where the presets are too, and stay said.
const presetNotice = info.notices.find((n) => n.kind.startsWith("presets_"));
if (presetNotice) presets.say(words(presetNotice) + (restored ? " " + t("presets.editsKept") : ""), true);
// Everything is mounted: the start-up state gives way to the window.
document.body.classList.remove("is-starting");
window.__dglabReadyAt = performance.now();
