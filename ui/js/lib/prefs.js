// The window's look that must be known before the backend answers: the language and the
// theme, remembered from the last run so the start-up state is drawn in them at once.
// The backend's settings stay the truth; main.js writes them here when they arrive.

const KEY = "dglab.prefs";
export const THEMES = ["system", "light", "dark"];

/** `{language, theme}` remembered in `storage`, or defaults. */
export function cachedPrefs(storage) {
  let saved = {};
  try {
    saved = JSON.parse(storage?.getItem(KEY) ?? "{}") ?? {};
  } catch {
    saved = {};
  }
  return {
    language: saved.language === "zh" ? "zh" : "en",
    theme: THEMES.includes(saved.theme) ? saved.theme : "system",
  };
}

/** Remembers `{language, theme}` for the next start. */
export function rememberPrefs(storage, { language, theme }) {
  try {
    storage?.setItem(KEY, JSON.stringify({ language, theme }));
  } catch {
    // Storage may be unavailable; the next start then draws in the defaults.
  }
}

/** Sets `data-theme` on the root: "light", "dark", or "system" (the CSS follows the
 *  desktop's preference). */
export function applyTheme(root, theme) {
  root.dataset.theme = THEMES.includes(theme) ? theme : "system";
}
