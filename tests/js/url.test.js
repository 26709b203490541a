// URL and URLSearchParams: the API surface beyond what the WPT data covers (tests/js/
// url_wpt.test.js): argument checks, the live link between a URL and its searchParams,
// iteration, and the runtime's own users of URL parsing (Request, Response.redirect, bodies).
import { test, assert } from 'edged:test';

test('new URL parses against a base and serializes', () => {
    const u = new URL('../c?x=1#f', 'https://user:pw@Example.COM:443/a/b/');
    assert.equal(u.href, 'https://user:pw@example.com/a/c?x=1#f');
    assert.equal(u.origin, 'https://example.com');
    assert.equal(u.protocol, 'https:');
    assert.equal(u.username, 'user');
    assert.equal(u.password, 'pw');
    assert.equal(u.host, 'example.com');
    assert.equal(u.port, '');
    assert.equal(u.pathname, '/a/c');
    assert.equal(u.search, '?x=1');
    assert.equal(u.hash, '#f');
    assert.equal(String(u), u.href);
    assert.equal(u.toJSON(), u.href);
    assert.equal(JSON.stringify({ u }), `{"u":"${u.href}"}`);
    assert.equal(new URL(u).href, u.href, 'a URL as input');
    assert.equal(Object.prototype.toString.call(u), '[object URL]');
});

test('hosts: IPv4 forms, IPv6, IDNA, opaque', () => {
    assert.equal(new URL('http://0x7f.1/').host, '127.0.0.1');
    assert.equal(new URL('http://2130706433/').host, '127.0.0.1');
    assert.equal(new URL('http://[0:0::1]:8080/').host, '[::1]:8080');
    assert.equal(new URL('http://münchen.DE/').hostname, 'xn--mnchen-3ya.de');
    assert.equal(new URL('http://faß.de/').hostname, 'xn--fa-hia.de', 'nontransitional');
    assert.equal(new URL('foo://Some%20Host/').hostname, 'Some%20Host', 'opaque hosts keep case');
    assert.throws(() => new URL('http://xn--a.com/'), TypeError, 'bad punycode');
    assert.throws(() => new URL('http://a<b/'), TypeError);
    assert.throws(() => new URL('http://1.2.3.256/'), TypeError);
    assert.throws(() => new URL('http://[1::2::3]/'), TypeError);
});

test('bad input is a TypeError; canParse and parse answer without throwing', () => {
    assert.throws(() => new URL('/relative'), { name: 'TypeError', message: 'Invalid URL' });
    assert.throws(() => new URL('x', 'not a base'), TypeError);
    assert.throws(() => new URL(), TypeError);
    assert.throws(() => URL.canParse(), TypeError);
    assert.equal(URL.canParse('/x'), false);
    assert.equal(URL.canParse('/x', 'http://a/'), true);
    assert.equal(URL.canParse('http://a/', undefined), true);
    assert.equal(URL.parse('/x'), null);
    assert.equal(URL.parse('/x', 'http://a/').href, 'http://a/x');
    assert.throws(() => { new URL('http://a/').href = 'nope'; }, TypeError);
});

test('setters follow the standard, including the ones that do nothing', () => {
    const u = new URL('http://a.com:8080/p?q#h');
    u.protocol = 'https';
    assert.equal(u.href, 'https://a.com:8080/p?q#h');
    u.protocol = 'foo'; // special to non-special: ignored
    assert.equal(u.protocol, 'https:');
    u.port = '443';
    assert.equal(u.port, '', 'the default port is dropped');
    u.port = '70000';
    assert.equal(u.port, '', 'out of range: unchanged');
    u.port = '81abc';
    assert.equal(u.port, '81');
    u.host = 'b.org:90';
    assert.equal(u.host, 'b.org:90');
    u.hostname = 'c.net';
    assert.equal(u.host, 'c.net:90');
    u.username = 'a b';
    u.password = 'p@ss';
    assert.equal(u.href, 'https://a%20b:p%40ss@c.net:90/p?q#h');
    u.pathname = 'x y/../z';
    assert.equal(u.pathname, '/z');
    u.search = 'a=1&b=2';
    assert.equal(u.search, '?a=1&b=2');
    u.hash = '#frag ment';
    assert.equal(u.hash, '#frag%20ment');
    u.search = '';
    u.hash = '';
    assert.equal(u.href, 'https://a%20b:p%40ss@c.net:90/z');
    u.href = 'mailto:me@example.com';
    u.host = 'ignored';
    u.username = 'ignored';
    assert.equal(u.href, 'mailto:me@example.com');
    assert.equal(u.origin, 'null');
});

test('searchParams is live both ways', () => {
    const u = new URL('http://a/?x=1&y=2');
    const p = u.searchParams;
    assert.equal(p.get('x'), '1');
    p.append('z', 'a b');
    assert.equal(u.search, '?x=1&y=2&z=a+b');
    u.search = '?k=v';
    assert.equal(p.get('k'), 'v');
    assert.equal(p.has('x'), false);
    u.href = 'http://b/?m=n';
    assert.equal(u.searchParams, p, 'the same object');
    assert.equal(p.get('m'), 'n');
    p.delete('m');
    assert.equal(u.href, 'http://b/', 'an empty list removes the query');
    const opaque = new URL('data:text ?q');
    opaque.searchParams.delete('q');
    assert.equal(opaque.href, 'data:text', 'trailing spaces of an opaque path go with the query');
});

test('URLSearchParams: constructors from string, record and sequence', () => {
    assert.deepEqual([...new URLSearchParams('?a=1&b=%20&c=d+e&&f')],
        [['a', '1'], ['b', ' '], ['c', 'd e'], ['f', '']]);
    assert.deepEqual([...new URLSearchParams({ a: 1, b: 'x' })], [['a', '1'], ['b', 'x']]);
    assert.deepEqual([...new URLSearchParams([['a', 'b'], new Set(['c', 'd'])])], [['a', 'b'], ['c', 'd']]);
    assert.deepEqual([...new URLSearchParams(new URLSearchParams('q=1'))], [['q', '1']]);
    assert.equal(new URLSearchParams(null).toString(), 'null=');
    assert.equal(new URLSearchParams().toString(), '');
    assert.throws(() => new URLSearchParams([['a']]), { name: 'TypeError', message: 'pair' });
    assert.throws(() => new URLSearchParams([['a', 'b', 'c']]), TypeError);
    assert.throws(() => new URLSearchParams([1]), TypeError);
    assert.equal(new URLSearchParams('a=%F0%9F%98%80&b=%ZZ').get('a'), '\u{1F600}');
    assert.equal(new URLSearchParams('b=%ZZ').get('b'), '%ZZ');
    assert.equal(new URLSearchParams({ '\ud800': 'x' }).toString(), '%EF%BF%BD=x', 'USVString');
});

test('URLSearchParams: methods, size, sort, serialization', () => {
    const p = new URLSearchParams('b=2&a=1&b=3');
    assert.equal(p.size, 3);
    assert.deepEqual(p.getAll('b'), ['2', '3']);
    assert.equal(p.get('nope'), null);
    assert.equal(p.has('b', '3'), true);
    assert.equal(p.has('b', '4'), false);
    p.set('b', '9');
    assert.equal(p.toString(), 'b=9&a=1');
    p.append('a', '0');
    p.delete('a', '1');
    assert.equal(p.toString(), 'b=9&a=0');
    p.append('c', '~!*()\' &=+');
    p.sort();
    assert.equal(p.toString(), 'a=0&b=9&c=%7E%21*%28%29%27+%26%3D%2B');
    const sorted = new URLSearchParams('z=1&a=2&z=0&a=1');
    sorted.sort();
    assert.equal(sorted.toString(), 'a=2&a=1&z=1&z=0', 'stable');
    assert.throws(() => p.append('x'), { name: 'TypeError', message: '2 arguments required' });
    assert.throws(() => p.get(), TypeError);
    assert.throws(() => p.forEach(), TypeError);
    assert.throws(() => p.forEach(1), TypeError);
});

test('URLSearchParams: iteration and forEach', () => {
    const p = new URLSearchParams('a=1&b=2');
    assert.deepEqual([...p.keys()], ['a', 'b']);
    assert.deepEqual([...p.values()], ['1', '2']);
    assert.deepEqual([...p.entries()], [['a', '1'], ['b', '2']]);
    assert.equal(p[Symbol.iterator], p.entries);
    const it = p.keys();
    assert.equal(Object.prototype.toString.call(it), '[object URLSearchParams Iterator]');
    assert.equal(it[Symbol.iterator](), it);
    assert.deepEqual(it.next(), { value: 'a', done: false });
    p.append('c', '3'); // iterators are live
    assert.deepEqual([...it], ['b', 'c']);
    const seen = [];
    p.forEach(function (v, k, obj) {
        seen.push([k, v, obj === p, this.t]);
    }, { t: 1 });
    assert.deepEqual(seen, [['a', '1', true, 1], ['b', '2', true, 1], ['c', '3', true, 1]]);
});

test('Request parses its URL; a relative one is a TypeError', () => {
    assert.equal(new Request('HTTP://Example.com/a/../b c').url, 'http://example.com/b%20c');
    assert.equal(new Request(new URL('http://a/x?y')).url, 'http://a/x?y');
    assert.equal(new Request(new Request('http://a/1')).url, 'http://a/1');
    assert.throws(() => new Request('/relative'), { name: 'TypeError', message: 'Invalid URL' });
    assert.throws(() => new Request('http://[bad/'), TypeError);
});

test('Response.redirect parses its URL', () => {
    assert.equal(Response.redirect('http://A.com/x y').headers.get('location'), 'http://a.com/x%20y');
    assert.equal(Response.redirect(new URL('https://b/')).headers.get('location'), 'https://b/');
    assert.throws(() => Response.redirect('/relative'), TypeError);
});

test('a URLSearchParams body is form-urlencoded', async () => {
    const r = new Response(new URLSearchParams({ a: 'b c', d: '&' }));
    assert.equal(r.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
    assert.equal(await r.text(), 'a=b+c&d=%26');
    const q = new Request('http://a/', { method: 'POST', body: new URLSearchParams('x=1') });
    assert.equal(await q.text(), 'x=1');
});
