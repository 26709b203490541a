// The worker of tests/e2e/test_objects.c: a counter (RPC and fetch), an object that runs the
// Durable Objects API battery inside itself (cursor shapes, error messages, key-value,
// transactions, alarms, ids), a plain class (no RPC, fetch only) and the routes that reach them.
// Every route answers text; /battery answers "ok" or the failed checks, one per line.
import { DurableObject } from 'cloudflare:workers';

let constructed = 0; // instances made in this isolate (eviction rebuilds them)

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    constructed++;
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)');
  }

  inc(by = 1) {
    const sql = this.ctx.storage.sql;
    sql.exec('INSERT INTO c VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET v = v + excluded.v', by);
    return sql.exec('SELECT v FROM c WHERE id = 1').one().v;
  }

  get() {
    const rows = this.ctx.storage.sql.exec('SELECT v FROM c WHERE id = 1').toArray();
    return rows.length === 0 ? 0 : rows[0].v;
  }

  stats() {
    return { value: this.get(), constructed, id: this.ctx.id.toString(), name: this.ctx.id.name };
  }

  echo(v) {
    return v;
  }

  // SQLite is not JavaScript: a runaway query is interrupted after the call's CPU budget (or
  // the watchdog ends the call, whichever comes first)
  runaway() {
    try {
      this.ctx.storage.sql.exec(
        'WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r');
      return 'finished';
    } catch (e) {
      return e.message;
    }
  }

  fail() {
    throw new RangeError('counter says no');
  }

  spin() {
    for (;;) {} // the CPU limit retires this isolate
  }

  async fetch(request) {
    const body = request.method === 'POST' ? await request.text() : '';
    return new Response(`${request.method} ${new URL(request.url).pathname} ${body.length} ${this.get()}`,
      { headers: { 'x-object': this.ctx.id.toString() } });
  }
}

// A class that does not extend DurableObject: fetch works, RPC does not (as in Workers).
export class Plain {
  constructor(ctx, env) {
    this.ctx = ctx;
  }

  hello() {
    return 'never';
  }

  async fetch() {
    return new Response(`plain ${this.ctx.id.name}`);
  }
}

// Calls wait while a blockConcurrencyWhile() callback runs.
export class Gated extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.ready = false;
    ctx.blockConcurrencyWhile(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      this.ready = true;
    });
  }

  isReady() {
    return this.ready;
  }
}

// alarm() counts its runs; one that throws is retried.
export class Alarmed extends DurableObject {
  async arm(ms, failures = 0) {
    await this.ctx.storage.put('failures', failures);
    await this.ctx.storage.setAlarm(Date.now() + ms);
    return (await this.ctx.storage.getAlarm()) !== null;
  }

  async alarm(info) {
    const storage = this.ctx.storage;
    const failures = (await storage.get('failures')) ?? 0;
    if (failures > 0) {
      await storage.put('failures', failures - 1);
      throw new Error('alarm failed on purpose');
    }
    await storage.put('fired', ((await storage.get('fired')) ?? 0) + 1);
    await storage.put('seen', await storage.getAlarm()); // null: deleted before alarm() runs
  }

  async fired() {
    return `${(await this.ctx.storage.get('fired')) ?? 0} ${await this.ctx.storage.get('seen')}`;
  }
}

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Battery extends DurableObject {
  async run() {
    const failed = [];
    const check = (name, actual, expected) => {
      if (!equal(actual, expected))
        failed.push(`${name}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
    };
    const throws = (name, fn, type, start) => {
      try {
        fn();
        failed.push(`${name}: did not throw`);
      } catch (e) {
        if (!(e instanceof type) || !String(e.message).startsWith(start))
          failed.push(`${name}: threw ${e && e.name}: ${e && e.message}`);
      }
    };
    const rejects = async (name, p, type, start) => {
      try {
        await p;
        failed.push(`${name}: did not reject`);
      } catch (e) {
        if (!(e instanceof type) || !String(e.message).startsWith(start))
          failed.push(`${name}: rejected with ${e && e.name}: ${e && e.message}`);
      }
    };
    const storage = this.ctx.storage;
    const sql = storage.sql;

    // ---- SQL and the cursor ----
    sql.exec('CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB)');
    const ins = sql.exec('INSERT INTO t VALUES (?, ?, ?, ?), (?, ?, ?, ?), (3, NULL, NULL, NULL)',
      1, 'one', 1.5, new Uint8Array([1, 2, 3]), 2, 'two', 2.5, null);
    check('insert rowsWritten', ins.rowsWritten, 3);
    check('insert columnNames', ins.columnNames, []);
    check('insert toArray', ins.toArray(), []);
    const q = 'SELECT a, b, c FROM t ORDER BY a';
    const cur = sql.exec(q);
    check('columnNames', cur.columnNames, ['a', 'b', 'c']);
    check('toArray', cur.toArray(), [{ a: 1, b: 'one', c: 1.5 }, { a: 2, b: 'two', c: 2.5 },
      { a: 3, b: null, c: null }]);
    check('rowsRead', sql.exec(q).rowsRead >= 3, true);
    check('raw', sql.exec(q).raw().toArray(), [[1, 'one', 1.5], [2, 'two', 2.5], [3, null, null]]);
    const partly = sql.exec(q);
    check('next', partly.next(), { done: false, value: { a: 1, b: 'one', c: 1.5 } });
    check('rest', partly.toArray().length, 2);
    check('done', partly.next().done, true);
    const seen = [];
    for (const row of sql.exec(q))
      seen.push(row.a);
    check('iterable', seen, [1, 2, 3]);
    check('one', sql.exec('SELECT b FROM t WHERE a = ?', 2).one(), { b: 'two' });
    throws('one none', () => sql.exec('SELECT a FROM t WHERE a > 100').one(), Error,
      'Expected exactly one result from SQL query, but got no results.');
    throws('one many', () => sql.exec(q).one(), Error,
      'Expected exactly one result from SQL query, but got multiple results.');
    const blob = sql.exec('SELECT d FROM t WHERE a = 1').one().d;
    check('blob', blob instanceof ArrayBuffer && [...new Uint8Array(blob)], [1, 2, 3]);
    check('integer is a number', typeof sql.exec('SELECT 9007199254740991 AS n').one().n, 'number');
    check('several statements', sql.exec('SELECT 1 AS x; SELECT 2 AS y').toArray(), [{ y: 2 }]);
    check('databaseSize', sql.databaseSize > 0, true);
    throws('BEGIN', () => sql.exec('BEGIN TRANSACTION'), Error,
      'To execute a transaction, please use the state.storage.transaction()');
    throws('_cf_ tables', () => sql.exec('SELECT * FROM _cf_KV'), Error, '');
    throws('ATTACH', () => sql.exec("ATTACH DATABASE '/tmp/x.db' AS x"), Error, '');
    throws('PRAGMA', () => sql.exec('PRAGMA journal_mode = DELETE'), Error, '');
    throws('syntax', () => sql.exec('SELEC 1'), Error, '');
    throws('no such table', () => sql.exec('SELECT * FROM nope'), Error, 'no such table: nope');
    throws('bindings', () => sql.exec('SELECT ?', () => 1), TypeError, 'SQL bindings must be');
    const many = new Array(101).fill(1);
    throws('over 100 bindings', () => sql.exec(`SELECT ${many.map(() => '?').join(',')}`, ...many),
      Error, '');
    check('table_info', sql.exec("PRAGMA table_info('t')").toArray().map((r) => r.name),
      ['a', 'b', 'c', 'd']);

    // ---- key-value ----
    await storage.put('k1', { deep: [1, 2, { x: new Date(0) }], m: new Map([[1, 2]]) });
    const v = await storage.get('k1');
    check('put/get', v.deep[2].x instanceof Date && v.m.get(1), 2);
    check('get missing', await storage.get('nope'), undefined);
    await storage.put({ a: 1, b: 2, c: 3, 'p/1': 'x', 'p/2': 'y' });
    const got = await storage.get(['c', 'a', 'zz']);
    check('get many', [...got], [['a', 1], ['c', 3]]);
    check('list prefix', [...await storage.list({ prefix: 'p/' })], [['p/1', 'x'], ['p/2', 'y']]);
    check('list range', [...(await storage.list({ start: 'a', end: 'c' })).keys()], ['a', 'b']);
    check('list reverse limit', [...(await storage.list({ reverse: true, limit: 2 })).keys()],
      ['p/2', 'p/1']);
    check('list startAfter', [...(await storage.list({ startAfter: 'b', end: 'k' })).keys()], ['c']);
    check('delete one', await storage.delete('a'), true);
    check('delete absent', await storage.delete('a'), false);
    check('delete many', await storage.delete(['b', 'c', 'nope']), 2);
    await rejects('too many keys', storage.get(new Array(129).fill('x')), RangeError,
      'Maximum number of keys is 128');
    await rejects('key too large', storage.put('x'.repeat(3000), 1), Error, 'Keys cannot be larger than');
    await rejects('not clonable', storage.put('f', () => 1), Error, '');

    // ---- transactions ----
    sql.exec('CREATE TABLE tx (v INTEGER)');
    throws('transactionSync rolls back', () => storage.transactionSync(() => {
      sql.exec('INSERT INTO tx VALUES (1)');
      throw new Error('undo');
    }), Error, 'undo');
    check('rolled back', sql.exec('SELECT count(*) AS n FROM tx').one().n, 0);
    check('transactionSync value', storage.transactionSync(() => {
      sql.exec('INSERT INTO tx VALUES (2)');
      return 'kept';
    }), 'kept');
    check('kept', sql.exec('SELECT count(*) AS n FROM tx').one().n, 1);
    await storage.transaction(async (txn) => {
      await txn.put('t1', 1);
      txn.rollback();
    });
    check('transaction rollback()', await storage.get('t1'), undefined);
    await storage.transaction(async (txn) => {
      await txn.put('t2', 2);
    });
    check('transaction commit', await storage.get('t2'), 2);

    // ---- alarms ----
    check('no alarm', await storage.getAlarm(), null);
    const at = Date.now() + 3600000;
    await storage.setAlarm(at);
    check('alarm set', await storage.getAlarm(), at);
    await storage.deleteAlarm();
    check('alarm deleted', await storage.getAlarm(), null);

    // ---- ids ----
    const ns = this.env.BATTERY;
    const id = this.ctx.id;
    check('ctx.id', id.toString().length, 64);
    check('ctx.id.name', id.name, 'battery');
    check('idFromName', ns.idFromName('battery').toString(), id.toString());
    check('equals', ns.idFromString(id.toString()).equals(id), true);
    check('unique ids differ', ns.newUniqueId().toString() === ns.newUniqueId().toString(), false);
    throws('idFromString shape', () => ns.idFromString('xyz'), TypeError,
      'Invalid Durable Object ID: must be 64 hex digits');
    const forged = id.toString().slice(0, 63) + (id.toString()[63] === '0' ? '1' : '0');
    throws('idFromString forged', () => ns.idFromString(forged), TypeError,
      'Durable Object ID is not valid for this namespace.');
    throws('other namespace', () => this.env.COUNTERS.get(id), TypeError,
      'Durable Object ID is not valid for this namespace.');

    // ---- deleteAll ----
    await storage.deleteAll();
    check('deleteAll kv', await storage.get('t2'), undefined);
    throws('deleteAll sql', () => sql.exec('SELECT * FROM t'), Error, 'no such table');
    return failed.length === 0 ? 'ok' : failed.join('\n');
  }
}

async function expectError(p, name, start) {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e.name === name && String(e.message).startsWith(start) ? 'ok' : `${e.name}: ${e.message}`;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.searchParams.get('name') ?? 'a';
    const counter = () => env.COUNTERS.getByName(name);
    switch (url.pathname) {
      case '/inc':
        return new Response(String(await counter().inc()));
      case '/get':
        return new Response(String(await counter().get()));
      case '/spin':
        return new Response(String(await counter().spin()));
      case '/runaway':
        return new Response(await counter().runaway());
      case '/stats':
        return Response.json(await counter().stats());
      case '/id':
        return new Response(env.COUNTERS.idFromName(name).toString());
      case '/by-id': {
        let id;
        try {
          id = env.COUNTERS.idFromString(url.searchParams.get('id'));
        } catch (e) {
          return new Response(`${e.name}: ${e.message}`, { status: 400 });
        }
        return new Response(String(await env.COUNTERS.get(id).get()));
      }
      case '/fetch':
        return counter().fetch(new Request('http://object/some/path', {
          method: 'POST', body: 'x'.repeat(100000),
        }));
      case '/battery':
        return new Response(await env.BATTERY.getByName('battery').run());
      case '/gated':
        return new Response(String(await env.GATED.getByName(name).isReady()));
      case '/arm':
        return new Response(String(await env.ALARMED.getByName(name).arm(
          Number(url.searchParams.get('ms')), Number(url.searchParams.get('failures') ?? 0))));
      case '/fired':
        return new Response(await env.ALARMED.getByName(name).fired());
      case '/plain-fetch':
        return env.PLAIN.getByName('p').fetch('http://object/');
      case '/errors': {
        const stub = counter();
        const out = [
          await expectError(stub.fail(), 'RangeError', 'counter says no'),
          await expectError(stub.missing(), 'TypeError',
            'The RPC receiver does not implement the method "missing".'),
          await expectError(stub.echo(() => 1), 'DataCloneError', ''),
          await expectError(env.PLAIN.getByName('p').hello(), 'TypeError',
            'The receiving Durable Object does not support RPC'),
          equal(await stub.echo({ a: [1, 'x', null] }), { a: [1, 'x', null] }) ? 'ok' : 'echo',
        ];
        return new Response(out.join('\n'));
      }
      default:
        return new Response('no such route', { status: 404 });
    }
  },
};
