// The project's main module: routes /count to the Counter durable object, /child to a child
// worker loaded at run time, and answers everything else with a page built from a text module.
import { DurableObject } from "cloudflare:workers";
import { greet } from "./lib/greet.js";
import page from "./page.html";

export class Counter extends DurableObject {
  async fetch() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return new Response(String(n));
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/count") {
      return env.COUNTER.get(env.COUNTER.idFromName("global")).fetch(request);
    }
    if (path === "/child") {
      const child = env.LOADER.load({
        compatibilityDate: "2026-01-15",
        mainModule: "child.js",
        modules: { "child.js": "export default { fetch() { return new Response('from a child'); } };" },
        globalOutbound: null,
      });
      return child.getEntrypoint().fetch(request);
    }
    return new Response(page.replace("{{greeting}}", greet(env.GREETING)), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  },
};
