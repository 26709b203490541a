// The worker of tests/e2e/test_objects_facets.c: a supervisor object that gives a child worker's
// class a facet (Cloudflare's ctx.facets over env.LOADER), an object whose call is killed by the
// CPU limit after it wrote, transactions from two calls at once, alarm() retries, and storage
// quotas. Every route answers text (JSON for structured answers).
import { DurableObject } from 'cloudflare:workers';

// The child's code: an app with its own SQL database, and probes of what it can reach.
const APP = `
import { DurableObject } from 'cloudflare:workers';
let made = 0;
export class App extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    made++;
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS notes (v TEXT)');
  }
  add(v) {
    this.ctx.storage.sql.exec('INSERT INTO notes VALUES (?)', v);
    return this.count();
  }
  count() {
    return this.ctx.storage.sql.exec('SELECT count(*) AS n FROM notes').one().n;
  }
  tables() {
    return this.ctx.storage.sql.exec(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name);
  }
  async probe() {
    const out = [];
    try {
      this.ctx.storage.sql.exec('SELECT * FROM secret');
      out.push('read the parent');
    } catch (e) {
      out.push(e.message.split(':')[0]);
    }
    try {
      this.ctx.storage.sql.exec("ATTACH DATABASE 'parent.sqlite' AS p");
      out.push('attached');
    } catch (e) {
      out.push('no attach');
    }
    try {
      this.ctx.facets.get('sub', () => ({}));
      out.push('nested');
    } catch (e) {
      out.push(e.message);
    }
    try {
      await this.ctx.storage.setAlarm(Date.now() + 60000);
      out.push('alarm');
    } catch (e) {
      out.push(e.message);
    }
    out.push(typeof this.env.SUPERVISORS);
    return out;
  }
  info() {
    const id = this.ctx.id;
    return { made, id: typeof id === 'string' ? id : id.toString(), count: this.count() };
  }
  spin() {
    this.ctx.storage.sql.exec('INSERT INTO notes VALUES (?)', 'doomed');
    for (;;) {}
  }
  async fetch(request) {
    return new Response('facet ' + new URL(request.url).pathname + ' ' + this.count());
  }
}
`;

function appClass(env) {
  return env.LOADER.get('app-v1', () => ({
    compatibilityDate: '2025-06-01',
    mainModule: 'app.js',
    modules: { 'app.js': APP },
    globalOutbound: null,
  })).getDurableObjectClass('App');
}

export class Supervisor extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS secret (v TEXT)');
  }

  app(name, id = undefined) {
    return this.ctx.facets.get(name, () => ({ class: appClass(this.env), id }));
  }

  async add(name, v) {
    this.ctx.storage.sql.exec("INSERT INTO secret VALUES ('parent')");
    return this.app(name).add(v);
  }

  async count(name) {
    return this.app(name).count();
  }

  async tables(name) {
    const own = this.ctx.storage.sql.exec(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name);
    return { own, facet: await this.app(name).tables() };
  }

  async probe(name) {
    return this.app(name).probe();
  }

  async info(name, id) {
    return this.app(name, id === 'parent' ? undefined : id).info();
  }

  async facetFetch(name) {
    return (await this.app(name).fetch('http://facet/hello')).text();
  }

  async abort(name) {
    this.ctx.facets.abort(name, new Error('stopped by the supervisor'));
    return 'aborted';
  }

  async remove(name) {
    this.ctx.facets.delete(name);
    return 'deleted';
  }

  async spin(name) {
    return this.app(name).spin();
  }

  badNames() {
    const out = [];
    for (const name of ['', 'a/b', 'x'.repeat(129), 'tab\there']) {
      try {
        this.ctx.facets.get(name, () => ({}));
        out.push('accepted');
      } catch (e) {
        out.push(e.name);
      }
    }
    return out;
  }

  async badClass() {
    try {
      await this.ctx.facets.get('bad', () => ({ class: 'App' })).count();
      return 'accepted';
    } catch (e) {
      return `${e.name}: ${e.message}`;
    }
  }
}

// Writes, then spins until the CPU limit stops the isolate: the write must not survive.
export class Doomed extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS c (v INTEGER)');
  }

  get() {
    return this.ctx.storage.sql.exec('SELECT count(*) AS n FROM c').one().n;
  }

  inc() {
    this.ctx.storage.sql.exec('INSERT INTO c VALUES (1)');
    return this.get();
  }

  incThenSpin() {
    this.ctx.storage.sql.exec('INSERT INTO c VALUES (1)');
    for (;;) {}
  }
}

// Two calls in async transactions at once: the second waits for the first.
export class Txn extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS log (v TEXT)');
  }

  slow(tag, ms) {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transaction(async () => {
      sql.exec('INSERT INTO log VALUES (?)', `${tag}:begin`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      sql.exec('INSERT INTO log VALUES (?)', `${tag}:end`);
      if (tag.endsWith('fail'))
        throw new Error(`undo ${tag}`);
      return tag;
    });
  }

  async nested() {
    const storage = this.ctx.storage;
    await storage.transaction(async () => {
      await storage.transaction(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        storage.sql.exec("INSERT INTO log VALUES ('inner')");
      });
      storage.transactionSync(() => storage.sql.exec("INSERT INTO log VALUES ('sync')"));
      storage.sql.exec("INSERT INTO log VALUES ('outer')");
    });
    return this.log();
  }

  log() {
    return this.ctx.storage.sql.exec('SELECT v FROM log ORDER BY rowid').toArray().map((r) => r.v);
  }
}

// alarm() records what it was told; it throws while failures are left.
export class Retried extends DurableObject {
  async arm(failures) {
    await this.ctx.storage.put('failures', failures);
    await this.ctx.storage.put('seen', []);
    await this.ctx.storage.setAlarm(Date.now() + 10);
    return 'armed';
  }

  async alarm(info) {
    const storage = this.ctx.storage;
    await storage.put('seen', [...(await storage.get('seen')), `${info.retryCount}/${info.isRetry}`]);
    const failures = await storage.get('failures');
    if (failures > 0) {
      await storage.put('failures', failures - 1);
      throw new Error('alarm failed on purpose');
    }
  }

  async seen() {
    return (await this.ctx.storage.get('seen')).join(' ');
  }
}

// Storage against the tenant's quota.
export class Store extends DurableObject {
  write(kb) {
    try {
      const sql = this.ctx.storage.sql;
      sql.exec('CREATE TABLE IF NOT EXISTS b (v BLOB)');
      sql.exec('INSERT INTO b VALUES (zeroblob(?))', kb * 1024);
      return 'ok';
    } catch (e) {
      return e.message;
    }
  }

  rows() {
    return this.ctx.storage.sql.exec('SELECT count(*) AS n FROM b').one().n;
  }
}

async function text(p) {
  try {
    const v = await p;
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = (k, d = undefined) => url.searchParams.get(k) ?? d;
    const sup = () => env.SUPERVISORS.getByName(q('name', 's'));
    const facet = q('facet', 'app');
    let out;
    switch (url.pathname) {
      case '/add': out = sup().add(facet, q('v', 'x')); break;
      case '/count': out = sup().count(facet); break;
      case '/tables': out = sup().tables(facet); break;
      case '/probe': out = sup().probe(facet); break;
      case '/info': out = sup().info(facet, q('id', 'parent')); break;
      case '/facet-fetch': out = sup().facetFetch(facet); break;
      case '/abort': out = sup().abort(facet); break;
      case '/delete': out = sup().remove(facet); break;
      case '/facet-spin': out = sup().spin(facet); break;
      case '/bad-names': out = sup().badNames(); break;
      case '/bad-class': out = sup().badClass(); break;
      case '/supervisor-id': out = Promise.resolve(env.SUPERVISORS.idFromName(q('name', 's')).toString()); break;
      case '/doomed': out = env.DOOMED.getByName(q('name', 'd')).inc(); break;
      case '/doomed-get': out = env.DOOMED.getByName(q('name', 'd')).get(); break;
      case '/doomed-spin': out = env.DOOMED.getByName(q('name', 'd')).incThenSpin(); break;
      case '/txn': {
        const stub = env.TXN.getByName(q('name', 't'));
        const results = await Promise.allSettled([stub.slow('a', 30), stub.slow('b-fail', 5)]);
        const log = await stub.log();
        out = Promise.resolve({
          results: results.map((r) => r.status === 'fulfilled' ? r.value : r.reason.message),
          log,
        });
        break;
      }
      case '/txn-nested': out = env.TXN.getByName(q('name', 'n')).nested(); break;
      case '/arm': out = env.RETRIED.getByName(q('name', 'r')).arm(Number(q('failures', '0'))); break;
      case '/seen': out = env.RETRIED.getByName(q('name', 'r')).seen(); break;
      case '/write': out = env.STORES.getByName(q('name', 'w')).write(Number(q('kb', '1'))); break;
      case '/rows': out = env.STORES.getByName(q('name', 'w')).rows(); break;
      default:
        return new Response('no such route', { status: 404 });
    }
    return new Response(await text(out));
  },
};
