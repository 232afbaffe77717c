// First paint: before main.js has asked the backend anything, the page says what is
// happening ("Starting the relay…") in the language and theme the user chose last time
// (remembered in localStorage by main.js), instead of a white page and empty boxes.

import { setLanguage, t } from "./lib/i18n.js";
import { applyTheme, cachedPrefs } from "./lib/prefs.js";

const prefs = cachedPrefs(window.localStorage);
setLanguage(prefs.language);
applyTheme(document.documentElement, prefs.theme);
for (const el of document.querySelectorAll("[data-i18n-text]")) {
  if (!el.textContent) el.textContent = t(el.dataset.i18nText);
}
window.__dglabBootShownAt = performance.now();
