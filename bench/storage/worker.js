// The worker bench/storage.sh serves, the same file with edged and with workerd: a durable object
// namespace bound as COUNTERS (edged: worker.metadata.json; workerd: durableObjectNamespaces with
// enableSql and localDisk storage in the capnp config), class Counter, one SQL counter per object.
//   POST /inc?name=N   increments object N's counter (RPC inc()) and answers its new value
//   GET  /get?name=N   answers object N's counter (RPC get()), 0 before the first increment
//   GET  /ping         answers "ok" without touching an object (is the server up?)
// Both servers hold the answer to an increment until its write is committed (the output gate), so
// a 200 from /inc is an acknowledged, durable increment.
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS c(k TEXT PRIMARY KEY, v INTEGER)");
  }

  inc() {
    return this.sql
      .exec("INSERT INTO c(k, v) VALUES ('n', 1) ON CONFLICT(k) DO UPDATE SET v = v + 1 RETURNING v")
      .one().v;
  }

  get() {
    const rows = this.sql.exec("SELECT v FROM c WHERE k = 'n'").toArray();
    return rows.length ? rows[0].v : 0;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("ok\n");
    const name = url.searchParams.get("name");
    if (!name) return new Response("name= is required\n", { status: 400 });
    const stub = env.COUNTERS.get(env.COUNTERS.idFromName(name));
    if (url.pathname === "/inc" && request.method === "POST") {
      return new Response(String(await stub.inc()));
    }
    if (url.pathname === "/get" && request.method === "GET") {
      return new Response(String(await stub.get()));
    }
    return new Response("not found\n", { status: 404 });
  },
};
