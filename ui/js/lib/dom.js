// Tiny DOM helpers shared by the components.

/** Creates an element: h("button", {class: "x", type: "button"}, "text", child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Sets text only when it changed, so selection and screen readers are not disturbed. */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Shows a short message in the notice area (Toasts listens for it). */
export function notify(text, level = "info") {
  document.dispatchEvent(new CustomEvent("notify", { detail: { text, level } }));
}

/** <option>s from [value, label] pairs. */
export function options(pairs, selected) {
  return pairs.map(([value, label]) => {
    const o = h("option", { value }, label);
    if (String(value) === String(selected)) o.selected = true;
    return o;
  });
}
