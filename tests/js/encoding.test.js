// TextEncoder and TextDecoder: UTF-8, UTF-16LE/BE and windows-1252 (latin1), labels, fatal,
// ignoreBOM and streaming; error paths throw TypeError or RangeError.
import { test, assert } from 'edged:test';

const bytes = (...b) => new Uint8Array(b);

test('TextEncoder encodes UTF-8, lone surrogates as U+FFFD', () => {
    const e = new TextEncoder();
    assert.equal(e.encoding, 'utf-8');
    assert.deepEqual(e.encode('a€\u{1F600}'), bytes(0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80));
    assert.deepEqual(e.encode('\ud800'), bytes(0xef, 0xbf, 0xbd));
    assert.deepEqual(e.encode(), bytes());
    const dest = new Uint8Array(4);
    assert.deepEqual(e.encodeInto('a€b', dest), { read: 2, written: 4 });
    assert.throws(() => e.encodeInto('a', []), TypeError);
});

test('labels name encodings; unknown ones are a RangeError', () => {
    for (const [label, name] of [['utf8', 'utf-8'], [' UTF-8\n', 'utf-8'], ['unicode-1-1-utf-8', 'utf-8'],
        ['utf-16', 'utf-16le'], ['UTF-16LE', 'utf-16le'], ['ucs-2', 'utf-16le'], ['utf-16be', 'utf-16be'],
        ['latin1', 'windows-1252'], ['iso-8859-1', 'windows-1252'], ['ascii', 'windows-1252'],
        ['us-ascii', 'windows-1252'], ['windows-1252', 'windows-1252']])
        assert.equal(new TextDecoder(label).encoding, name, label);
    assert.equal(new TextDecoder().encoding, 'utf-8');
    assert.throws(() => new TextDecoder('nope'), RangeError);
    assert.throws(() => new TextDecoder('replacement'), RangeError);
    assert.throws(() => new TextDecoder('utf-8', 5), TypeError);
});

test('UTF-8: replacement, fatal, BOM handling', () => {
    assert.equal(new TextDecoder().decode(bytes(0x61, 0xff, 0x62)), 'a\ufffdb');
    assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes(0xc3)),
        { name: 'TypeError' });
    const d = new TextDecoder('utf-8', { fatal: true });
    assert.equal(d.fatal, true);
    assert.equal(d.ignoreBOM, false);
    assert.equal(new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x41)), 'A');
    assert.equal(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x41)), '\ufeffA');
    assert.throws(() => new TextDecoder().decode('string'), TypeError);
    assert.equal(new TextDecoder().decode(new Uint16Array([0x6968]).buffer), 'hi');
});

test('UTF-8 streaming joins sequences split across chunks and drops one BOM', () => {
    const d = new TextDecoder();
    let out = d.decode(bytes(0xef, 0xbb), { stream: true });
    out += d.decode(bytes(0xbf, 0xe2, 0x82), { stream: true });
    out += d.decode(bytes(0xac, 0xef, 0xbb, 0xbf));
    assert.equal(out, '€\ufeff', 'only the first BOM goes');
    assert.equal(d.decode(bytes(0xe2), { stream: true }) + d.decode(), '\ufffd', 'flush');
    const f = new TextDecoder('utf-8', { fatal: true });
    f.decode(bytes(0xe2), { stream: true });
    assert.throws(() => f.decode(), TypeError);
    assert.equal(f.decode(bytes(0x41)), 'A', 'a new decode after an error starts afresh');
});

test('UTF-16LE and UTF-16BE, with surrogates, errors and streaming', () => {
    const le = new TextDecoder('utf-16le');
    assert.equal(le.decode(bytes(0xff, 0xfe, 0x68, 0x00, 0x69, 0x00)), 'hi', 'BOM dropped');
    assert.equal(le.decode(bytes(0x3d, 0xd8, 0x00, 0xde)), '\u{1F600}');
    assert.equal(le.decode(bytes(0x00, 0xd8, 0x41, 0x00)), '\ufffdA', 'lone lead surrogate');
    assert.equal(le.decode(bytes(0x00, 0xdc)), '\ufffd', 'lone trail surrogate');
    assert.equal(le.decode(bytes(0x41)), '\ufffd', 'odd byte');
    assert.throws(() => new TextDecoder('utf-16le', { fatal: true }).decode(bytes(0x00, 0xd8)),
        { name: 'TypeError', message: 'utf-16le' });
    const be = new TextDecoder('utf-16be');
    assert.equal(be.decode(bytes(0xfe, 0xff, 0x00, 0x68)), 'h');
    const s = new TextDecoder('utf-16le');
    let out = s.decode(bytes(0x3d), { stream: true });
    out += s.decode(bytes(0xd8, 0x00), { stream: true });
    out += s.decode(bytes(0xde, 0x41, 0x00));
    assert.equal(out, '\u{1F600}A');
    assert.equal(new TextDecoder('utf-16le', { ignoreBOM: true }).decode(bytes(0xff, 0xfe)), '\ufeff');
});

test('windows-1252 (latin1) maps every byte, 0x80..0x9F through its table', () => {
    const d = new TextDecoder('latin1', { fatal: true });
    assert.equal(d.decode(bytes(0x41, 0x80, 0x81, 0x9f, 0xe9, 0xff)), 'A€\u0081Ÿéÿ');
    assert.equal(new TextDecoder('iso-8859-1').decode(bytes(0xef, 0xbb, 0xbf)), 'ï»¿', 'no BOM here');
});
