// The demo worker: "/" answers with a greeting from the tenant's env, "/json" echoes the request
// with a counter kept in module state. The counter grows across requests because the worker's
// isolate is reused on its shard (each shard thread has its own isolate, so its own count).
let requests = 0;

export default {
  async fetch(request, env, ctx) {
    requests++;
    // request.url is absolute ("http://host/path?query"); keep only the path.
    const path = request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split("?")[0];
    if (path === "/json") {
      const body = JSON.stringify({ method: request.method, url: request.url, requests });
      return new Response(body + "\n", { headers: { "content-type": "application/json" } });
    }
    return new Response((env.GREETING || "Hello from edged!") + "\n", {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
