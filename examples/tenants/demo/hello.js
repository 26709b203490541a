// The demo worker.
//   GET  /      a greeting from the tenant's env
//   GET  /json  the request echoed with a counter kept in module state (it grows across
//               requests because the worker's isolate is reused on its shard)
//   POST /run   Code Mode: the body is an ES module written by an agent, exporting
//               `default { async run(api) { ... } }`. It runs in a fresh child isolate with no
//               network (globalOutbound: null); its only reach is `api`, a small typed API this
//               parent passes in: a scratchpad (get/put/list) and log(). Its result comes back
//               as JSON. Try: curl --data-binary @examples/agent.js http://127.0.0.1:8080/run
import { WorkerEntrypoint, RpcTarget } from "cloudflare:workers";

let requests = 0;

// What the agent's code may use. Every method call crosses back into this (parent) isolate.
class AgentApi extends RpcTarget {
  #pad = new Map();
  #logs = [];
  get(key) {
    return this.#pad.get(String(key)) ?? null;
  }
  put(key, value) {
    this.#pad.set(String(key), value);
    return true;
  }
  list() {
    return [...this.#pad.keys()];
  }
  log(...args) {
    this.#logs.push(args.map(String).join(" "));
  }
  logs() {
    return this.#logs;
  }
}

// The child's entrypoint wraps the agent's module so that the agent only ever sees `api`.
const RUNNER = `
import { WorkerEntrypoint } from "cloudflare:workers";
import agent from "./agent.js";
export default class extends WorkerEntrypoint {
  async run() {
    if (!agent || typeof agent.run !== "function")
      throw new TypeError("the module must export default { async run(api) { ... } }");
    return await agent.run(this.env.api);
  }
}`;

async function runAgent(request, env) {
  const code = await request.text();
  const api = new AgentApi();
  const child = env.LOADER.load({
    compatibilityDate: "2026-11-01",
    mainModule: "runner.js",
    modules: { "runner.js": RUNNER, "agent.js": code },
    env: { api },
    globalOutbound: null,
  });
  try {
    const result = await child.getEntrypoint().run();
    return Response.json({ ok: true, result, logs: api.logs() });
  } catch (e) {
    return Response.json({ ok: false, error: String(e && e.message ? e.message : e), logs: api.logs() },
                         { status: 422 });
  }
}

export default {
  async fetch(request, env, ctx) {
    requests++;
    // request.url is absolute ("http://host/path?query"); keep only the path.
    const path = request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split("?")[0];
    if (path === "/run" && request.method === "POST")
      return runAgent(request, env);
    if (path === "/json") {
      const body = JSON.stringify({ method: request.method, url: request.url, requests });
      return new Response(body + "\n", { headers: { "content-type": "application/json" } });
    }
    return new Response((env.GREETING || "Hello from edged!") + "\n", {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
