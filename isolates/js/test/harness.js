// The module "edged:test": what a `.test.js` file imports to register tests and check values
// (`edged test`, edge/jstest.c). It is embedded into the edged binary at build time but is not
// part of the runtime snapshot: only the test runner puts it into a bundle, so tenants never
// see it. Tests run in registration order, one at a time; each result goes to the runner as a
// console line that starts with a private marker (the runner prints it as `ok - FILE: NAME` or
// `FAIL - FILE: NAME: MESSAGE` and counts it), so a test's own console output stays
// interleaved with the results it belongs to.

// Taken now, before any test code runs, so a test that replaces console.log cannot hide results.
const print = console.log.bind(console);
const MARK = '\u0001edged-test ';

const tests = [];
let started = false;

function oneLine(s) {
    return String(s).replace(/[\r\n]+/g, ' ');
}

function report(kind, name, detail) {
    // '%s' so that a test name with a % in it is not taken as a format string.
    print('%s', `${MARK}${kind} ${oneLine(name)}${detail === undefined ? '' : `\u0002${detail}`}`);
}

// A short, never-throwing description of a value for failure messages.
function show(v, depth = 0) {
    try {
        if (typeof v === 'string')
            return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
        if (typeof v === 'bigint')
            return `${v}n`;
        if (typeof v === 'symbol')
            return v.toString();
        if (typeof v === 'function')
            return `[function ${v.name || '(anonymous)'}]`;
        if (v === null || typeof v !== 'object')
            return Object.is(v, -0) ? '-0' : String(v);
        if (depth > 2)
            return Array.isArray(v) ? '[...]' : '{...}';
        if (v instanceof Error)
            return `${v.name}: ${v.message}`;
        if (v instanceof Date)
            return `Date(${Number.isNaN(v.getTime()) ? 'Invalid' : v.toISOString()})`;
        if (v instanceof ArrayBuffer)
            return `ArrayBuffer [${Array.from(new Uint8Array(v).slice(0, 32)).join(', ')}${v.byteLength > 32 ? ', ...' : ''}]`;
        if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
            const items = Array.from(v.slice(0, 32), (x) => show(x));
            return `${v.constructor.name} [${items.join(', ')}${v.length > 32 ? ', ...' : ''}]`;
        }
        if (Array.isArray(v)) {
            const items = v.slice(0, 20).map((x) => show(x, depth + 1));
            return `[${items.join(', ')}${v.length > 20 ? ', ...' : ''}]`;
        }
        if (v instanceof Map)
            return `Map(${v.size}) {${Array.from(v).slice(0, 20).map(([k, x]) => `${show(k, depth + 1)} => ${show(x, depth + 1)}`).join(', ')}}`;
        if (v instanceof Set)
            return `Set(${v.size}) {${Array.from(v).slice(0, 20).map((x) => show(x, depth + 1)).join(', ')}}`;
        const keys = Object.keys(v);
        const items = keys.slice(0, 20).map((k) => `${k}: ${show(v[k], depth + 1)}`);
        const name = Object.getPrototypeOf(v) === Object.prototype ? '' : `${v.constructor?.name ?? 'Object'} `;
        return `${name}{${items.join(', ')}${keys.length > 20 ? ', ...' : ''}}`;
    } catch {
        return '[unprintable]';
    }
}

class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

function fail(message, fallback) {
    throw new AssertionError(message === undefined ? fallback : `${message}: ${fallback}`);
}

function bytesOf(v) {
    if (v instanceof ArrayBuffer)
        return new Uint8Array(v);
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

// Structural equality: primitives by Object.is; arrays, plain objects (same prototype, same
// own enumerable keys), ArrayBuffers and views (same type, same bytes), Map, Set, Date,
// RegExp, boxed primitives. Returns a path to the first difference, or null.
function difference(a, b, path, seen) {
    if (Object.is(a, b))
        return null;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
        return path;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b))
        return `${path} (different types)`;
    if (seen.has(a))
        return seen.get(a) === b ? null : path;
    seen.set(a, b);
    if (a instanceof Date)
        return Object.is(a.getTime(), b.getTime()) ? null : path;
    if (a instanceof RegExp)
        return String(a) === String(b) ? null : path;
    if (a instanceof ArrayBuffer || ArrayBuffer.isView(a)) {
        const x = bytesOf(a), y = bytesOf(b);
        if (x.length !== y.length)
            return `${path} (byte length ${x.length} vs ${y.length})`;
        for (let i = 0; i < x.length; i++) {
            if (x[i] !== y[i])
                return `${path} (byte ${i})`;
        }
        return null;
    }
    if (a instanceof Number || a instanceof String || a instanceof Boolean)
        return Object.is(a.valueOf(), b.valueOf()) ? null : path;
    if (a instanceof Map) {
        if (a.size !== b.size)
            return `${path} (size ${a.size} vs ${b.size})`;
        for (const [k, v] of a) {
            if (!b.has(k))
                return `${path}.get(${show(k)}) (missing)`;
            const d = difference(v, b.get(k), `${path}.get(${show(k)})`, seen);
            if (d !== null)
                return d;
        }
        return null;
    }
    if (a instanceof Set) {
        if (a.size !== b.size)
            return `${path} (size ${a.size} vs ${b.size})`;
        for (const v of a) {
            if (b.has(v))
                continue;
            let found = false;
            for (const w of b) {
                if (typeof w === 'object' && difference(v, w, path, new Map()) === null) {
                    found = true;
                    break;
                }
            }
            if (!found)
                return `${path} (element ${show(v)} missing)`;
        }
        return null;
    }
    const ka = Object.keys(a), kb = Object.keys(b);
    if (Array.isArray(a) && a.length !== b.length)
        return `${path} (length ${a.length} vs ${b.length})`;
    if (ka.length !== kb.length)
        return `${path} (keys ${show(ka)} vs ${show(kb)})`;
    for (const k of ka) {
        if (!Object.prototype.hasOwnProperty.call(b, k))
            return `${path}.${k} (missing)`;
        const d = difference(a[k], b[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, seen);
        if (d !== null)
            return d;
    }
    return null;
}

// expected: undefined (anything thrown), an error class (instanceof), or { name?, message? }
// where message is a string the error's message must contain or a RegExp it must match.
function checkError(e, expected, message, what) {
    if (expected === undefined)
        return;
    if (typeof expected === 'function') {
        if (!(e instanceof expected))
            fail(message, `${what} ${show(e)}, expected an instance of ${expected.name}`);
        return;
    }
    if (typeof expected !== 'object' || expected === null)
        throw new TypeError('assert: expected must be an error class or { name?, message? }');
    const name = e?.name, msg = e?.message;
    if (expected.name !== undefined && name !== expected.name)
        fail(message, `${what} ${show(e)}, expected name ${show(expected.name)}`);
    if (expected.message instanceof RegExp) {
        if (typeof msg !== 'string' || !expected.message.test(msg))
            fail(message, `${what} ${show(e)}, expected a message matching ${expected.message}`);
    } else if (expected.message !== undefined) {
        if (typeof msg !== 'string' || !msg.includes(expected.message))
            fail(message, `${what} ${show(e)}, expected a message containing ${show(expected.message)}`);
    }
}

function assert(cond, message) {
    if (!cond)
        fail(message, `expected a truthy value, got ${show(cond)}`);
}

assert.ok = function ok(cond, message) {
    if (!cond)
        fail(message, `expected a truthy value, got ${show(cond)}`);
};

assert.equal = function equal(actual, expected, message) {
    if (!Object.is(actual, expected))
        fail(message, `expected ${show(expected)}, got ${show(actual)}`);
};

assert.notEqual = function notEqual(actual, expected, message) {
    if (Object.is(actual, expected))
        fail(message, `expected anything but ${show(expected)}`);
};

assert.deepEqual = function deepEqual(actual, expected, message) {
    const d = difference(actual, expected, 'value', new Map());
    if (d !== null)
        fail(message, `${d} differs: expected ${show(expected)}, got ${show(actual)}`);
};

assert.throws = function throws(fn, expected, message) {
    if (typeof fn !== 'function')
        throw new TypeError('assert.throws: the first argument must be a function');
    try {
        fn();
    } catch (e) {
        checkError(e, expected, message, 'threw');
        return e;
    }
    fail(message, 'expected an exception, but nothing was thrown');
};

assert.rejects = async function rejects(promiseOrFn, expected, message) {
    let promise = promiseOrFn;
    if (typeof promiseOrFn === 'function') {
        try {
            promise = promiseOrFn();
        } catch (e) {
            promise = Promise.reject(e);
        }
    }
    if (typeof promise?.then !== 'function')
        fail(message, `expected a promise, got ${show(promise)}`);
    try {
        await promise;
    } catch (e) {
        checkError(e, expected, message, 'rejected with');
        return e;
    }
    fail(message, 'expected a rejection, but the promise fulfilled');
};

assert.fail = function assertFail(message) {
    throw new AssertionError(message === undefined ? 'assert.fail() was called' : String(message));
};

export function test(name, fn) {
    if (started)
        throw new Error('test(): tests must be registered at the top level of the test file');
    if (typeof fn !== 'function')
        throw new TypeError('test(name, fn): fn must be a function');
    tests.push({ name: String(name), fn });
}

function describeFailure(e) {
    if (e instanceof AssertionError)
        return e.message;
    let text;
    try {
        text = e instanceof Error ? `${e.name}: ${e.message}` : `threw ${show(e)}`;
        // the test's own frames help; the harness's do not
        if (e instanceof Error && typeof e.stack === 'string') {
            const frames = e.stack.split('\n').filter((l) => /^\s+at /.test(l) &&
                !l.includes('edged:test') && !l.includes('edged:runtime/')).map((l) => l.trim())
                .slice(0, 6);
            if (frames.length > 0)
                text += `\n${frames.join('\n')}`;
        }
    } catch {
        text = 'threw an unprintable value';
    }
    return text;
}

// The runner's entry point: runs the registered tests whose "FILE: NAME" contains filter.
async function run(file, filter) {
    started = true;
    for (const t of tests) {
        if (filter && !`${file}: ${t.name}`.includes(filter))
            continue;
        report('start', t.name);
        try {
            await t.fn();
            report('ok', t.name);
        } catch (e) {
            report('fail', t.name, describeFailure(e));
        }
    }
    report('done', '');
}

export { assert, AssertionError };
export default { run };
