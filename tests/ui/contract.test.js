// The window's side of the bridge contract: every command and event ui/js/backend.js uses
// exists in the shell (tests/ui/contract.json, checked against the Rust code by
// src-tauri/tests/contract.rs) with the same argument names, and backend.js is the only
// module that touches window.__TAURI__.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { CONTRACT } from "./contract-data.js";

const UI = new URL("../../ui/", import.meta.url);
const read = (rel) => readFileSync(new URL(rel, UI), "utf8");
const backend = read("js/backend.js");

/** `invoke("name", { a, b: x })` → {name: ["a", "b"]} */
export function invokedCommands(source) {
  const out = {};
  for (const m of source.matchAll(/\binvoke\(\s*"(\w+)"\s*(?:,\s*\{([^}]*)\})?\s*\)/g)) {
    const args = (m[2] ?? "")
      .split(",")
      .map((part) => part.split(":")[0].trim())
      .filter(Boolean);
    assert.ok(!(m[1] in out), `${m[1]} is wrapped twice`);
    out[m[1]] = args.sort();
  }
  return out;
}

test("the extractor sees names and argument names (so the contract test can fail)", () => {
  assert.deepEqual(invokedCommands('a: () => invoke("x"), b: (v) => invoke("y", { channel, value: v || null })'), {
    x: [],
    y: ["channel", "value"],
  });
});

test("every command backend.js invokes exists in the shell with the same argument names", () => {
  const used = invokedCommands(backend);
  assert.ok(Object.keys(used).length > 10, "backend.js wraps the commands");
  for (const [name, args] of Object.entries(used)) {
    assert.ok(name in CONTRACT.commands, `backend.js invokes ${name}, which the shell does not register`);
    assert.deepEqual(args, [...CONTRACT.commands[name].args].sort(), `arguments of ${name}`);
  }
  for (const name of Object.keys(CONTRACT.commands)) {
    assert.ok(name in used, `the shell registers ${name} but backend.js never invokes it`);
  }
});

test("every event backend.js listens to is one the shell emits", () => {
  const names = Object.fromEntries([...backend.matchAll(/export const (EVENT_\w+) = "([^"]+)"/g)].map((m) => [m[1], m[2]]));
  assert.deepEqual(Object.values(names).sort(), Object.keys(CONTRACT.events).sort());
  for (const constName of Object.keys(names)) {
    assert.match(backend, new RegExp(`listen\\(${constName},`), `${constName} is listened to`);
  }
});

test("only backend.js touches window.__TAURI__", () => {
  const walk = (dir) =>
    readdirSync(new URL(dir, UI), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(`${dir}${e.name}/`) : e.name.endsWith(".js") ? [`${dir}${e.name}`] : [],
    );
  for (const file of walk("js/")) {
    if (file === "js/backend.js") continue;
    assert.doesNotMatch(read(file), /__TAURI__/, file);
  }
});
