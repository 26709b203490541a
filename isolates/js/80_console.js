// console: formats its arguments the way a browser or workerd console does (a format string
// with %s %d %i %f %o %O %j %c %%, strings as they are, other values through a small inspect)
// and hands one line per call to native.print(level, text), which goes to the tenant's log.
// inspect never throws and bounds its work: depth, items per collection and line length.
'use strict';
(function (internals, native) {
    const MAX_DEPTH = 2;
    const MAX_ITEMS = 100;
    const MAX_LENGTH = 64 * 1024;
    const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
    const RUNTIME_FRAME = /^\s*at .*edged:runtime\//; // the runtime's frames mean nothing to a tenant

    function quote(s) {
        return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
    }

    function formatKey(k) {
        if (typeof k === 'symbol')
            return `[${k.toString()}]`;
        return IDENTIFIER.test(k) ? k : quote(k);
    }

    function constructorName(v) {
        try {
            const proto = Object.getPrototypeOf(v);
            if (proto === null)
                return '[Object: null prototype]';
            const ctor = proto.constructor;
            return typeof ctor === 'function' && typeof ctor.name === 'string' ? ctor.name : '';
        } catch {
            return '';
        }
    }

    function list(prefix, items, open, close) {
        if (items.length === 0)
            return `${prefix}${open}${close}`;
        return `${prefix}${open} ${items.join(', ')} ${close}`;
    }

    function more(n) {
        return `... ${n} more item${n === 1 ? '' : 's'}`;
    }

    function inspectProperties(v, depth, seen, keys) {
        const items = [];
        for (const k of keys.slice(0, MAX_ITEMS)) {
            let value;
            try {
                value = v[k];
            } catch {
                value = '[Getter threw]';
            }
            items.push(`${formatKey(k)}: ${inspect(value, depth + 1, seen)}`);
        }
        if (keys.length > MAX_ITEMS)
            items.push(more(keys.length - MAX_ITEMS));
        return items;
    }

    function inspectObject(v, depth, seen) {
        if (v instanceof Error) {
            const stack = v.stack;
            if (typeof stack !== 'string' || stack.length === 0)
                return String(v);
            return stack.split('\n').filter((line) => !RUNTIME_FRAME.test(line)).join('\n');
        }
        if (typeof v === 'function') {
            const name = v.name ? `: ${v.name}` : ' (anonymous)';
            const isClass = /^class\b/.test(Function.prototype.toString.call(v));
            return `[${isClass ? 'class' : 'Function'}${name}]`;
        }
        if (v instanceof Date)
            return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
        if (v instanceof RegExp)
            return String(v);
        if (seen.includes(v))
            return '[Circular]';
        const name = constructorName(v);
        if (depth > MAX_DEPTH)
            return Array.isArray(v) ? '[Array]' : `[${name || 'Object'}]`;
        seen.push(v);
        try {
            if (Array.isArray(v)) {
                const items = v.slice(0, MAX_ITEMS).map((x) => inspect(x, depth + 1, seen));
                if (v.length > MAX_ITEMS)
                    items.push(more(v.length - MAX_ITEMS));
                return list(name === 'Array' ? '' : `${name}(${v.length}) `, items, '[', ']');
            }
            if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
                const items = Array.from(v.subarray(0, MAX_ITEMS), (x) => inspect(x, depth + 1, seen));
                if (v.length > MAX_ITEMS)
                    items.push(more(v.length - MAX_ITEMS));
                return list(`${name}(${v.length}) `, items, '[', ']');
            }
            if (v instanceof ArrayBuffer)
                return `ArrayBuffer { byteLength: ${v.byteLength} }`;
            if (v instanceof Map) {
                const items = [];
                for (const [k, x] of v) {
                    if (items.length === MAX_ITEMS) {
                        items.push(more(v.size - MAX_ITEMS));
                        break;
                    }
                    items.push(`${inspect(k, depth + 1, seen)} => ${inspect(x, depth + 1, seen)}`);
                }
                return list(`Map(${v.size}) `, items, '{', '}');
            }
            if (v instanceof Set) {
                const items = [];
                for (const x of v) {
                    if (items.length === MAX_ITEMS) {
                        items.push(more(v.size - MAX_ITEMS));
                        break;
                    }
                    items.push(inspect(x, depth + 1, seen));
                }
                return list(`Set(${v.size}) `, items, '{', '}');
            }
            if (internals.isHeaders(v)) {
                const items = internals.headersList(v).map(([k, x]) => `${quote(k)} => ${quote(x)}`);
                return list('Headers ', items, '{', '}');
            }
            const keys = Object.keys(v);
            const prefix = name === 'Object' ? '' : `${name || 'Object'} `;
            return list(prefix, inspectProperties(v, depth, seen, keys), '{', '}');
        } finally {
            seen.pop();
        }
    }

    function inspect(v, depth = 0, seen = []) {
        switch (typeof v) {
        case 'string':
            return depth === 0 ? v : quote(v);
        case 'number':
            return Object.is(v, -0) ? '-0' : String(v);
        case 'bigint':
            return `${v}n`;
        case 'symbol':
            return v.toString();
        case 'undefined':
        case 'boolean':
            return String(v);
        default:
            if (v === null)
                return 'null';
            try {
                return inspectObject(v, depth, seen);
            } catch {
                return '[object]';
            }
        }
    }

    // Applies a leading format string, then appends the remaining arguments.
    function format(args) {
        let out = '';
        let rest = 0;
        if (typeof args[0] === 'string' && args.length > 1) {
            const fmt = args[0];
            rest = 1;
            let last = 0;
            for (let i = fmt.indexOf('%'); i >= 0 && i + 1 < fmt.length; i = fmt.indexOf('%', last)) {
                const c = fmt[i + 1];
                let piece = null;
                if (c === '%') {
                    piece = '%';
                } else if (rest < args.length && 'sdifoOjc'.includes(c)) {
                    const a = args[rest++];
                    if (c === 's')
                        piece = typeof a === 'string' ? a : inspect(a, 1);
                    else if (c === 'd' || c === 'i')
                        piece = typeof a === 'bigint' ? `${a}n`
                            : String(c === 'i' ? Math.trunc(Number(a)) : Number(a));
                    else if (c === 'f')
                        piece = String(Number(a));
                    else if (c === 'j')
                        piece = safeJson(a);
                    else if (c === 'c')
                        piece = '';
                    else
                        piece = inspect(a, 1);
                }
                if (piece === null) {
                    out += fmt.slice(last, i + 2);
                } else {
                    out += fmt.slice(last, i) + piece;
                }
                last = i + 2;
            }
            out += fmt.slice(last);
        }
        for (let i = rest; i < args.length; i++) {
            const piece = inspect(args[i]);
            out = i === 0 ? piece : `${out} ${piece}`;
            if (out.length > MAX_LENGTH)
                break;
        }
        if (out.length > MAX_LENGTH)
            out = `${out.slice(0, MAX_LENGTH)}... (truncated)`;
        return out;
    }

    function safeJson(v) {
        try {
            return String(JSON.stringify(v));
        } catch {
            return '[Circular]';
        }
    }

    function method(level) {
        return {
            [level](...args) {
                let text;
                try {
                    text = format(args);
                } catch {
                    text = '[console: the arguments could not be formatted]';
                }
                native.print(level, text);
            },
        }[level];
    }

    const console = {
        debug: method('debug'),
        log: method('log'),
        info: method('info'),
        warn: method('warn'),
        error: method('error'),
        assert(condition = false, ...args) {
            if (condition)
                return;
            const rest = typeof args[0] === 'string' ? [`Assertion failed: ${args[0]}`, ...args.slice(1)]
                : ['Assertion failed', ...args];
            method('error')(...rest);
        },
    };
    Object.defineProperty(console, Symbol.toStringTag, { value: 'console', configurable: true });

    internals.expose('console', console);
})
