// The parent worker bench/codecache.sh serves (edged only): every request loads a never-seen
// child (a fresh id and a main module of its own) and calls it once.
//   GET /tiny/...   the child is only its main module (~200 bytes), like bench/loader.sh's
//                   never-seen row: under the code cache's threshold, never looked up
//   GET /warm/...   the child also imports lib.js, a ~300 KB library that is the same bytes for
//                   every child: after the first, a code cache hit
//   GET /cold/...   the same library with a unique first line: a miss every time (compiled from
//                   source, and its code cache produced)
// LIB is generated once at start-up: helpers, classes and closures like a bundled npm package,
// some of them called at top level (so the code cache holds their compiled bodies too).

const DATE = "2026-11-01";
let requests = 0;

function makeLib(target) {
  const parts = ['export const VERSION = "1.0.0";\n'];
  let size = parts[0].length;
  let n = 0;
  while (size < target) {
    const p =
      `function helper${n}(a, b) {\n` +
      `  const o = { k: a, v: b, n: ${n} };\n` +
      `  return typeof b === "string" ? b.split(",").map((x) => x + o.n).join(";") : o.k * 31 + o.n;\n` +
      `}\n` +
      `export class Shape${n} {\n` +
      `  constructor(x) { this.x = x; this.tag = "shape${n}"; }\n` +
      `  area() { return this.x * this.x * ${n}; }\n` +
      `  describe() { return \`\${this.tag}: \${this.area()}\`; }\n` +
      `}\n` +
      `export function f${n}(x) {\n` +
      `  const s = String(x).repeat(2);\n` +
      `  let t = 0;\n` +
      `  for (let i = 0; i < s.length; i++) t += s.charCodeAt(i) ^ ${n};\n` +
      `  return helper${n}(t, ${n}) + new Shape${n}(x).area();\n` +
      `}\n`;
    parts.push(p);
    size += p.length;
    n++;
  }
  const top = [];
  for (let i = 0; i < n; i += 3) top.push(`f${i}(${i})`);
  parts.push(`export const TOP = [${top.join(", ")}].reduce((a, b) => a + b, 0);\n`);
  return parts.join("");
}

const LIB = makeLib(300 * 1024);

function child(id, lib) {
  const main = lib
    ? `import { TOP, f1, Shape2 } from "./lib.js";\n` +
      `export default { fetch() { return new Response(${JSON.stringify(id)} + " " + ` +
      `(TOP + f1(7) + new Shape2(3).area()) + "\\n"); } };`
    : `export default { fetch() { return new Response(${JSON.stringify(id + "\n")}); } };`;
  const modules = { "main.js": main };
  if (lib) modules["lib.js"] = lib;
  return { compatibilityDate: DATE, mainModule: "main.js", modules };
}

export default {
  async fetch(request, env) {
    requests++;
    const path = request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split("?")[0];
    const id = `c${requests}-${Math.random()}`;
    let lib;
    if (path.startsWith("/warm")) lib = LIB;
    else if (path.startsWith("/cold")) lib = `// ${id}\n` + LIB;
    else if (path.startsWith("/tiny")) lib = null;
    else if (path === "/size") return new Response(LIB.length + "\n");
    else return new Response("hello\n");
    return env.LOADER.get(id, () => child(id, lib)).getEntrypoint().fetch(request);
  },
};
