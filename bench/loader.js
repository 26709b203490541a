// The parent worker bench/loader.sh serves, with edged and with workerd: the same file, a
// loader binding named LOADER (edged: loader.metadata.json; workerd: workerLoader in the capnp).
//   GET /hello            the parent alone, no child (the baseline)
//   GET /unique/...       a never-seen child: an id and code that differ on every request
//   GET /same/...         the same child every time (fixed id and code)
//   GET /load/...         an id-less child (LOADER.load) per request, fixed code
//   GET /stats            the parent's own timing of /unique requests since the last /stats
//                         (performance.now() around get()...fetch(); JSON), then resets it
//   GET /keep?from=A&count=B[&rounds=R]
//                         gets children k<A> .. k<A+B-1> one after the other and calls each once
//                         (R times over, default 1), so they stay live and idle; answers JSON
//                         with how many getCode callbacks ran (a callback runs only for an id
//                         that has no live child)
// The child answers the parent's request itself (getEntrypoint().fetch(request)), so what wrk
// times is parent + child.

const DATE = "2026-11-01";
let requests = 0;
let callbacks = 0;
// Clocks in Workers may advance only between I/O; the get()...fetch() span includes I/O.
const now = globalThis.performance ? () => performance.now() : () => Date.now();
let spans = []; // ms, bounded

function code(text) {
  callbacks++;
  return {
    compatibilityDate: DATE,
    mainModule: "c.js",
    modules: {
      "c.js": `export default { fetch() { return new Response(${JSON.stringify(text + "\n")}) } }`,
    },
  };
}

const SAME = code("child same");
callbacks = 0;

async function keep(env, from, count, rounds) {
  const before = callbacks;
  for (let r = 0; r < rounds; r++) for (let i = from; i < from + count; i++) {
    const id = "k" + i;
    const r = await env.LOADER.get(id, () => code("kept " + id)).getEntrypoint()
      .fetch(new Request("http://child/"));
    const text = await r.text();
    if (text !== "kept " + id + "\n")
      throw new Error(`child ${id} answered ${JSON.stringify(text)}`);
  }
  return Response.json({ from, count, callbacks: callbacks - before });
}

export default {
  async fetch(request, env) {
    requests++;
    // request.url is absolute ("http://host/path?query"); keep path and query.
    const rest = request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "");
    const [path, query = ""] = rest.split("?");
    if (path.startsWith("/unique")) {
      const id = `u${requests}-${Math.random()}`;
      const t0 = now();
      const r = await env.LOADER.get(id, () => code("child " + id)).getEntrypoint().fetch(request);
      if (spans.length < 100000)
        spans.push(now() - t0);
      return r;
    }
    if (path.startsWith("/same"))
      return env.LOADER.get("same", () => SAME).getEntrypoint().fetch(request);
    if (path.startsWith("/load"))
      return env.LOADER.load(SAME).getEntrypoint().fetch(request);
    if (path === "/stats") {
      const s = spans.sort((a, b) => a - b);
      spans = [];
      const sum = s.reduce((a, b) => a + b, 0);
      return Response.json({
        n: s.length,
        p50: s.length ? s[s.length >> 1] : null,
        mean: s.length ? sum / s.length : null,
      });
    }
    if (path === "/keep") {
      const q = Object.fromEntries(query.split("&").map((kv) => kv.split("=")));
      return keep(env, Number(q.from) || 0, Number(q.count) || 0, Number(q.rounds) || 1);
    }
    return new Response("hello\n");
  },
};
