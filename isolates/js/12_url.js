// URL and URLSearchParams, per the WHATWG URL Standard: the basic URL parser (a state machine
// over code points, with state overrides for the setters), host parsing (IPv4 in every legacy
// form, IPv6, opaque hosts, and domains through UTS #46: native.domainToASCII, ICU), the
// serializers, origins, and application/x-www-form-urlencoded. A URL's state is a record
// { scheme, username, password, host, port, path, query, fragment } where host is kept
// serialized (null, '' for the empty host, a domain, dotted IPv4, '[v6]' or an opaque host)
// and path is a list of segments, or a string for an opaque path. The parser works on
// character codes with loops rather than regular expressions (see isToken in 00_internals.js).
// internals.parseUrl serves Request and Response.redirect. A lazy runtime file (lazy.cc): it
// runs on a worker's first use of URL, URLSearchParams or a URL that Request must parse.
'use strict';
(function (internals, native) {
    const EOF = -1;

    // ---- code point classes and percent-encoding ------------------------------------------

    const isAlpha = (c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const isDigit = (c) => c >= 0x30 && c <= 0x39;
    const isHex = (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
    const hexValue = (c) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
    const lower = (c) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

    // Percent-encode sets over ASCII: SETS[i][c] is 1 when c (< 0x80) is encoded; every
    // code point above U+007E is encoded in every set.
    function makeSet(base, extra) {
        const set = base ? base.slice() : new Uint8Array(128);
        if (!base) {
            for (let c = 0; c < 0x20; c++)
                set[c] = 1;
            set[0x7f] = 1;
        }
        for (let i = 0; i < extra.length; i++)
            set[extra.charCodeAt(i)] = 1;
        return set;
    }
    const C0_SET = makeSet(null, '');
    const FRAGMENT_SET = makeSet(C0_SET, ' "<>`');
    const QUERY_SET = makeSet(C0_SET, ' "#<>');
    const SPECIAL_QUERY_SET = makeSet(QUERY_SET, "'");
    const PATH_SET = makeSet(QUERY_SET, '?`{}');
    const USERINFO_SET = makeSet(PATH_SET, '/:;=@[\\]^|');
    const COMPONENT_SET = makeSet(USERINFO_SET, '$%&+,');
    const FORM_SET = makeSet(COMPONENT_SET, "!'()~");

    const HEX = '0123456789ABCDEF';

    function percentByte(b) {
        return `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }

    // UTF-8 percent-encode of code point cp with set.
    function encodeCodePoint(cp, set) {
        if (cp < 0x80)
            return set[cp] ? percentByte(cp) : String.fromCharCode(cp);
        if (cp < 0x800)
            return percentByte(0xc0 | (cp >> 6)) + percentByte(0x80 | (cp & 63));
        if (cp < 0x10000) {
            return percentByte(0xe0 | (cp >> 12)) + percentByte(0x80 | ((cp >> 6) & 63)) +
                percentByte(0x80 | (cp & 63));
        }
        return percentByte(0xf0 | (cp >> 18)) + percentByte(0x80 | ((cp >> 12) & 63)) +
            percentByte(0x80 | ((cp >> 6) & 63)) + percentByte(0x80 | (cp & 63));
    }

    // s (a scalar value string) percent-encoded with set; spaceAsPlus for form encoding.
    function encodeString(s, set, spaceAsPlus = false) {
        let out = '';
        let start = 0; // the run of characters that need no encoding
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c < 0x80 && !set[c] && !(spaceAsPlus && c === 0x20))
                continue;
            out += s.slice(start, i);
            if (spaceAsPlus && c === 0x20) {
                out += '+';
            } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
                const d = s.charCodeAt(i + 1);
                out += encodeCodePoint(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00), set);
                i++;
            } else {
                out += encodeCodePoint(c, set);
            }
            start = i + 1;
        }
        return start === 0 ? s : out + s.slice(start);
    }

    // Web IDL's USVString: lone surrogates become U+FFFD.
    function toUSV(v) {
        const s = String(v);
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c < 0xd800 || c > 0xdfff)
                continue;
            if (c <= 0xdbff && i + 1 < s.length) {
                const d = s.charCodeAt(i + 1);
                if (d >= 0xdc00 && d <= 0xdfff) {
                    i++;
                    continue;
                }
            }
            return fixSurrogates(s);
        }
        return s;
    }

    function fixSurrogates(s) {
        let out = '';
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
                const d = s.charCodeAt(i + 1);
                if (d >= 0xdc00 && d <= 0xdfff) {
                    out += s[i] + s[i + 1];
                    i++;
                    continue;
                }
            }
            out += c >= 0xd800 && c <= 0xdfff ? '\ufffd' : s[i];
        }
        return out;
    }

    // Percent-decode: the bytes of s (UTF-8) with %XX sequences replaced by their byte.
    function percentDecode(s) {
        const bytes = internals.encodeUtf8(s);
        const out = new Uint8Array(bytes.length);
        let n = 0;
        for (let i = 0; i < bytes.length; i++) {
            const b = bytes[i];
            if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
                out[n++] = hexValue(bytes[i + 1]) * 16 + hexValue(bytes[i + 2]);
                i += 2;
            } else {
                out[n++] = b;
            }
        }
        return out.subarray(0, n);
    }

    // UTF-8 decode without BOM (malformed input as U+FFFD).
    function decodeUtf8NoBom(bytes) {
        return bytes.length > 0 ? native.decode(bytes, false) : '';
    }

    // ---- hosts -------------------------------------------------------------------------------

    const FORBIDDEN_HOST = new Uint8Array(128);
    for (const c of [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x23, 0x2f, 0x3a, 0x3c, 0x3e, 0x3f, 0x40, 0x5b,
        0x5c, 0x5d, 0x5e, 0x7c])
        FORBIDDEN_HOST[c] = 1;
    const FORBIDDEN_DOMAIN = FORBIDDEN_HOST.slice();
    for (let c = 0; c < 0x20; c++)
        FORBIDDEN_DOMAIN[c] = 1;
    FORBIDDEN_DOMAIN[0x25] = 1;
    FORBIDDEN_DOMAIN[0x7f] = 1;

    // The IPv4 number parser: a number, or NaN for failure.
    function parseIPv4Number(s) {
        if (s === '')
            return NaN;
        let radix = 10, start = 0;
        if (s.length >= 2 && s.charCodeAt(0) === 0x30 && (s.charCodeAt(1) | 0x20) === 0x78) {
            radix = 16;
            start = 2;
        } else if (s.length >= 2 && s.charCodeAt(0) === 0x30) {
            radix = 8;
            start = 1;
        }
        if (start === s.length)
            return 0;
        let value = 0;
        for (let i = start; i < s.length; i++) {
            const c = s.charCodeAt(i);
            let d;
            if (radix === 16 && isHex(c))
                d = hexValue(c);
            else if (radix === 10 && isDigit(c))
                d = c - 0x30;
            else if (radix === 8 && c >= 0x30 && c <= 0x37)
                d = c - 0x30;
            else
                return NaN;
            value = value * radix + d;
        }
        return value;
    }

    function endsInANumber(s) {
        const parts = s.split('.');
        if (parts[parts.length - 1] === '') {
            if (parts.length === 1)
                return false;
            parts.pop();
        }
        const last = parts[parts.length - 1];
        if (last !== '') {
            let digits = true;
            for (let i = 0; i < last.length && digits; i++)
                digits = isDigit(last.charCodeAt(i));
            if (digits)
                return true;
        }
        return !Number.isNaN(parseIPv4Number(last));
    }

    // The IPv4 parser: the address serialized, or null for failure.
    function parseIPv4(s) {
        const parts = s.split('.');
        if (parts[parts.length - 1] === '' && parts.length > 1)
            parts.pop();
        if (parts.length > 4)
            return null;
        const numbers = [];
        for (const part of parts) {
            const n = parseIPv4Number(part);
            if (Number.isNaN(n))
                return null;
            numbers.push(n);
        }
        for (let i = 0; i < numbers.length - 1; i++) {
            if (numbers[i] > 255)
                return null;
        }
        const last = numbers[numbers.length - 1];
        if (last >= 256 ** (5 - numbers.length))
            return null;
        let ipv4 = last;
        for (let i = 0; i < numbers.length - 1; i++)
            ipv4 += numbers[i] * 256 ** (3 - i);
        return `${Math.floor(ipv4 / 16777216) % 256}.${Math.floor(ipv4 / 65536) % 256}.` +
            `${Math.floor(ipv4 / 256) % 256}.${ipv4 % 256}`;
    }

    // The IPv6 parser over s (without brackets): eight pieces, or null for failure.
    function parseIPv6(s) {
        const address = [0, 0, 0, 0, 0, 0, 0, 0];
        let pieceIndex = 0, compress = null, p = 0;
        const at = (i) => (i < s.length ? s.charCodeAt(i) : EOF);
        if (at(p) === 0x3a) {
            if (at(p + 1) !== 0x3a)
                return null;
            p += 2;
            pieceIndex++;
            compress = pieceIndex;
        }
        while (at(p) !== EOF) {
            if (pieceIndex === 8)
                return null;
            if (at(p) === 0x3a) {
                if (compress !== null)
                    return null;
                p++;
                pieceIndex++;
                compress = pieceIndex;
                continue;
            }
            let value = 0, length = 0;
            while (length < 4 && isHex(at(p))) {
                value = value * 16 + hexValue(at(p));
                p++;
                length++;
            }
            if (at(p) === 0x2e) {
                if (length === 0)
                    return null;
                p -= length;
                if (pieceIndex > 6)
                    return null;
                let numbersSeen = 0;
                while (at(p) !== EOF) {
                    let piece = null;
                    if (numbersSeen > 0) {
                        if (at(p) === 0x2e && numbersSeen < 4)
                            p++;
                        else
                            return null;
                    }
                    if (!isDigit(at(p)))
                        return null;
                    while (isDigit(at(p))) {
                        const n = at(p) - 0x30;
                        if (piece === null)
                            piece = n;
                        else if (piece === 0)
                            return null;
                        else
                            piece = piece * 10 + n;
                        if (piece > 255)
                            return null;
                        p++;
                    }
                    address[pieceIndex] = address[pieceIndex] * 0x100 + piece;
                    numbersSeen++;
                    if (numbersSeen === 2 || numbersSeen === 4)
                        pieceIndex++;
                }
                if (numbersSeen !== 4)
                    return null;
                break;
            } else if (at(p) === 0x3a) {
                p++;
                if (at(p) === EOF)
                    return null;
            } else if (at(p) !== EOF) {
                return null;
            }
            address[pieceIndex] = value;
            pieceIndex++;
        }
        if (compress !== null) {
            let swaps = pieceIndex - compress;
            pieceIndex = 7;
            while (pieceIndex !== 0 && swaps > 0) {
                const t = address[pieceIndex];
                address[pieceIndex] = address[compress + swaps - 1];
                address[compress + swaps - 1] = t;
                pieceIndex--;
                swaps--;
            }
        } else if (pieceIndex !== 8) {
            return null;
        }
        return address;
    }

    function serializeIPv6(address) {
        // the first longest run of two or more zero pieces is compressed
        let best = -1, bestLen = 1;
        for (let i = 0; i < 8;) {
            if (address[i] !== 0) {
                i++;
                continue;
            }
            let j = i;
            while (j < 8 && address[j] === 0)
                j++;
            if (j - i > bestLen) {
                best = i;
                bestLen = j - i;
            }
            i = j;
        }
        let out = '';
        let ignore0 = false;
        for (let i = 0; i < 8; i++) {
            if (ignore0 && address[i] === 0)
                continue;
            ignore0 = false;
            if (best === i) {
                out += i === 0 ? '::' : ':';
                ignore0 = true;
                continue;
            }
            out += address[i].toString(16);
            if (i !== 7)
                out += ':';
        }
        return `[${out}]`;
    }

    // Domain to ASCII with beStrict false: an ASCII domain with no "xn--" label is only
    // lowercased; anything else goes through UTS #46.
    function domainToASCII(domain) {
        let simple = true;
        for (let i = 0; i < domain.length && simple; i++) {
            const c = domain.charCodeAt(i);
            if (c >= 0x80)
                simple = false;
            else if ((c | 0x20) === 0x78 && (i === 0 || domain.charCodeAt(i - 1) === 0x2e) &&
                (domain.charCodeAt(i + 1) | 0x20) === 0x6e && domain.charCodeAt(i + 2) === 0x2d &&
                domain.charCodeAt(i + 3) === 0x2d)
                simple = false;
        }
        let result;
        if (simple) {
            result = '';
            for (let i = 0; i < domain.length; i++)
                result += String.fromCharCode(lower(domain.charCodeAt(i)));
        } else {
            result = native.domainToASCII(domain);
        }
        return result === '' ? null : result;
    }

    function parseOpaqueHost(s) {
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c < 0x80 && FORBIDDEN_HOST[c])
                return null;
        }
        return encodeString(s, C0_SET);
    }

    // The host parser: the host serialized, or null for failure.
    function parseHost(s, isOpaque) {
        if (s.charCodeAt(0) === 0x5b) {
            if (s.charCodeAt(s.length - 1) !== 0x5d)
                return null;
            const address = parseIPv6(s.slice(1, -1));
            return address === null ? null : serializeIPv6(address);
        }
        if (isOpaque)
            return parseOpaqueHost(s);
        const domain = s.includes('%') ? decodeUtf8NoBom(percentDecode(s)) : s;
        const ascii = domainToASCII(domain);
        if (ascii === null)
            return null;
        for (let i = 0; i < ascii.length; i++) {
            const c = ascii.charCodeAt(i);
            if (c < 0x80 && FORBIDDEN_DOMAIN[c])
                return null;
        }
        if (endsInANumber(ascii))
            return parseIPv4(ascii);
        return ascii;
    }

    // ---- the URL record and the basic URL parser --------------------------------------------

    const SPECIAL = { 'ftp': 21, 'file': null, 'http': 80, 'https': 443, 'ws': 80, 'wss': 443 };
    Object.setPrototypeOf(SPECIAL, null);
    const isSpecialScheme = (scheme) => scheme in SPECIAL;
    const defaultPort = (scheme) => (scheme in SPECIAL ? SPECIAL[scheme] : null);

    function newRecord() {
        return {
            scheme: '', username: '', password: '', host: null, port: null, path: [],
            query: null, fragment: null,
        };
    }

    const hasOpaquePath = (r) => typeof r.path === 'string';
    const includesCredentials = (r) => r.username !== '' || r.password !== '';
    const cannotHaveCredentialsOrPort = (r) => r.host === null || r.host === '' ||
        r.scheme === 'file';

    // A Windows drive letter: two code points, an ASCII alpha and ':' (or '|' unless
    // normalized).
    function isDriveLetter(s, normalized) {
        if (s.length !== 2 || !isAlpha(s.charCodeAt(0)))
            return false;
        const c = s.charCodeAt(1);
        return c === 0x3a || (!normalized && c === 0x7c);
    }

    // Whether the code points from p on start with a Windows drive letter.
    function startsWithDriveLetter(cps, p) {
        if (cps.length - p < 2 || !isAlpha(cps[p]) || (cps[p + 1] !== 0x3a && cps[p + 1] !== 0x7c))
            return false;
        if (cps.length - p === 2)
            return true;
        const c = cps[p + 2];
        return c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23;
    }

    function shortenPath(r) {
        const path = r.path;
        if (r.scheme === 'file' && path.length === 1 && isDriveLetter(path[0], true))
            return;
        path.pop();
    }

    function isSingleDot(s) {
        return s === '.' || (s.length === 3 && s[0] === '%' && s[1] === '2' && (s[2] === 'e' || s[2] === 'E'));
    }

    function isDoubleDot(s) {
        switch (s.length) {
        case 2: return s === '..';
        case 4: {
            const t = s.toLowerCase();
            return t === '.%2e' || t === '%2e.';
        }
        case 6: return s.toLowerCase() === '%2e%2e';
        default: return false;
        }
    }

    // The input as code points: tabs and newlines removed, and (for a fresh parse) leading
    // and trailing C0 controls and spaces too.
    function codePoints(input, trim) {
        let start = 0, end = input.length;
        if (trim) {
            while (start < end && input.charCodeAt(start) <= 0x20)
                start++;
            while (end > start && input.charCodeAt(end - 1) <= 0x20)
                end--;
        }
        const cps = [];
        for (let i = start; i < end; i++) {
            const c = input.charCodeAt(i);
            if (c === 0x09 || c === 0x0a || c === 0x0d)
                continue;
            if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
                const d = input.charCodeAt(i + 1);
                if (d >= 0xdc00 && d <= 0xdfff) {
                    cps.push(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
                    i++;
                    continue;
                }
            }
            cps.push(c);
        }
        return cps;
    }

    const S_SCHEME_START = 1, S_SCHEME = 2, S_NO_SCHEME = 3, S_SPECIAL_RELATIVE_OR_AUTHORITY = 4,
        S_PATH_OR_AUTHORITY = 5, S_RELATIVE = 6, S_RELATIVE_SLASH = 7,
        S_SPECIAL_AUTHORITY_SLASHES = 8, S_SPECIAL_AUTHORITY_IGNORE_SLASHES = 9, S_AUTHORITY = 10,
        S_HOST = 11, S_HOSTNAME = 12, S_PORT = 13, S_FILE = 14, S_FILE_SLASH = 15,
        S_FILE_HOST = 16, S_PATH_START = 17, S_PATH = 18, S_OPAQUE_PATH = 19, S_QUERY = 20,
        S_FRAGMENT = 21;

    const FAILURE = null;

    const chr = (c) => String.fromCodePoint(c);

    // The basic URL parser. Without url: parses input (against base, a record or null) into a
    // new record, or FAILURE. With url and stateOverride (a setter): modifies url in place;
    // the result then only tells failure (FAILURE) from the rest (url).
    function basicParse(input, base, url, stateOverride) {
        const fresh = url === undefined;
        if (fresh)
            url = newRecord();
        const cps = codePoints(input, fresh);
        let state = stateOverride || S_SCHEME_START;
        let buffer = '';
        let atSignSeen = false, insideBrackets = false, passwordTokenSeen = false;
        let p = 0;
        const remainingStartsWith = (c) => cps[p + 1] === c;

        for (;;) {
            const c = p < cps.length ? cps[p] : EOF;
            const special = isSpecialScheme(url.scheme);
            switch (state) {
            case S_SCHEME_START:
                if (isAlpha(c)) {
                    buffer += String.fromCharCode(lower(c));
                    state = S_SCHEME;
                } else if (!stateOverride) {
                    state = S_NO_SCHEME;
                    p--;
                } else {
                    return FAILURE;
                }
                break;

            case S_SCHEME:
                if (isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e) {
                    buffer += String.fromCharCode(lower(c));
                } else if (c === 0x3a) {
                    if (stateOverride) {
                        if (special !== isSpecialScheme(buffer))
                            return url;
                        if ((includesCredentials(url) || url.port !== null) && buffer === 'file')
                            return url;
                        if (url.scheme === 'file' && url.host === '')
                            return url;
                    }
                    url.scheme = buffer;
                    if (stateOverride) {
                        if (url.port === defaultPort(url.scheme))
                            url.port = null;
                        return url;
                    }
                    buffer = '';
                    if (url.scheme === 'file') {
                        state = S_FILE;
                    } else if (isSpecialScheme(url.scheme) && base !== null &&
                        base.scheme === url.scheme) {
                        state = S_SPECIAL_RELATIVE_OR_AUTHORITY;
                    } else if (isSpecialScheme(url.scheme)) {
                        state = S_SPECIAL_AUTHORITY_SLASHES;
                    } else if (remainingStartsWith(0x2f)) {
                        state = S_PATH_OR_AUTHORITY;
                        p++;
                    } else {
                        url.path = '';
                        state = S_OPAQUE_PATH;
                    }
                } else if (!stateOverride) {
                    buffer = '';
                    state = S_NO_SCHEME;
                    p = -1;
                } else {
                    return FAILURE;
                }
                break;

            case S_NO_SCHEME:
                if (base === null || (hasOpaquePath(base) && c !== 0x23))
                    return FAILURE;
                if (hasOpaquePath(base) && c === 0x23) {
                    url.scheme = base.scheme;
                    url.path = base.path;
                    url.query = base.query;
                    url.fragment = '';
                    state = S_FRAGMENT;
                } else if (base.scheme !== 'file') {
                    state = S_RELATIVE;
                    p--;
                } else {
                    state = S_FILE;
                    p--;
                }
                break;

            case S_SPECIAL_RELATIVE_OR_AUTHORITY:
                if (c === 0x2f && remainingStartsWith(0x2f)) {
                    state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
                    p++;
                } else {
                    state = S_RELATIVE;
                    p--;
                }
                break;

            case S_PATH_OR_AUTHORITY:
                if (c === 0x2f) {
                    state = S_AUTHORITY;
                } else {
                    state = S_PATH;
                    p--;
                }
                break;

            case S_RELATIVE:
                url.scheme = base.scheme;
                if (c === 0x2f || (isSpecialScheme(url.scheme) && c === 0x5c)) {
                    state = S_RELATIVE_SLASH;
                } else {
                    url.username = base.username;
                    url.password = base.password;
                    url.host = base.host;
                    url.port = base.port;
                    url.path = base.path.slice();
                    url.query = base.query;
                    if (c === 0x3f) {
                        url.query = '';
                        state = S_QUERY;
                    } else if (c === 0x23) {
                        url.fragment = '';
                        state = S_FRAGMENT;
                    } else if (c !== EOF) {
                        url.query = null;
                        shortenPath(url);
                        state = S_PATH;
                        p--;
                    }
                }
                break;

            case S_RELATIVE_SLASH:
                if (special && (c === 0x2f || c === 0x5c)) {
                    state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
                } else if (c === 0x2f) {
                    state = S_AUTHORITY;
                } else {
                    url.username = base.username;
                    url.password = base.password;
                    url.host = base.host;
                    url.port = base.port;
                    state = S_PATH;
                    p--;
                }
                break;

            case S_SPECIAL_AUTHORITY_SLASHES:
                state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
                if (c === 0x2f && remainingStartsWith(0x2f))
                    p++;
                else
                    p--;
                break;

            case S_SPECIAL_AUTHORITY_IGNORE_SLASHES:
                if (c !== 0x2f && c !== 0x5c) {
                    state = S_AUTHORITY;
                    p--;
                }
                break;

            case S_AUTHORITY:
                if (c === 0x40) {
                    if (atSignSeen)
                        buffer = `%40${buffer}`;
                    atSignSeen = true;
                    for (const ch of buffer) {
                        if (ch === ':' && !passwordTokenSeen) {
                            passwordTokenSeen = true;
                            continue;
                        }
                        const encoded = encodeString(ch, USERINFO_SET);
                        if (passwordTokenSeen)
                            url.password += encoded;
                        else
                            url.username += encoded;
                    }
                    buffer = '';
                } else if (c === EOF || c === 0x2f || c === 0x3f || c === 0x23 ||
                    (special && c === 0x5c)) {
                    if (atSignSeen && buffer === '')
                        return FAILURE;
                    let n = 0; // buffer's length in code points
                    for (let i = 0; i < buffer.length; i++) {
                        const u = buffer.charCodeAt(i);
                        if (u < 0xdc00 || u > 0xdfff)
                            n++;
                    }
                    p -= n + 1;
                    buffer = '';
                    state = S_HOST;
                } else {
                    buffer += chr(c);
                }
                break;

            case S_HOST:
            case S_HOSTNAME:
                if (stateOverride && url.scheme === 'file') {
                    p--;
                    state = S_FILE_HOST;
                } else if (c === 0x3a && !insideBrackets) {
                    if (buffer === '')
                        return FAILURE;
                    if (stateOverride === S_HOSTNAME)
                        return FAILURE;
                    const host = parseHost(buffer, !special);
                    if (host === null)
                        return FAILURE;
                    url.host = host;
                    buffer = '';
                    state = S_PORT;
                } else if (c === EOF || c === 0x2f || c === 0x3f || c === 0x23 ||
                    (special && c === 0x5c)) {
                    p--;
                    if (special && buffer === '')
                        return FAILURE;
                    if (stateOverride && buffer === '' &&
                        (includesCredentials(url) || url.port !== null))
                        return FAILURE;
                    const host = buffer === '' ? '' : parseHost(buffer, !special);
                    if (host === null)
                        return FAILURE;
                    url.host = host;
                    buffer = '';
                    state = S_PATH_START;
                    if (stateOverride)
                        return url;
                } else {
                    if (c === 0x5b)
                        insideBrackets = true;
                    else if (c === 0x5d)
                        insideBrackets = false;
                    buffer += chr(c);
                }
                break;

            case S_PORT:
                if (isDigit(c)) {
                    buffer += String.fromCharCode(c);
                } else if (c === EOF || c === 0x2f || c === 0x3f || c === 0x23 ||
                    (special && c === 0x5c) || stateOverride) {
                    if (buffer !== '') {
                        let digits = 0;
                        while (digits < buffer.length - 1 && buffer.charCodeAt(digits) === 0x30)
                            digits++;
                        const trimmed = buffer.slice(digits);
                        const port = trimmed.length > 5 ? 65536 : Number(trimmed);
                        if (port > 65535)
                            return FAILURE;
                        url.port = port === defaultPort(url.scheme) ? null : port;
                        buffer = '';
                        if (stateOverride)
                            return url;
                    }
                    if (stateOverride)
                        return FAILURE;
                    state = S_PATH_START;
                    p--;
                } else {
                    return FAILURE;
                }
                break;

            case S_FILE:
                url.scheme = 'file';
                url.host = '';
                if (c === 0x2f || c === 0x5c) {
                    state = S_FILE_SLASH;
                } else if (base !== null && base.scheme === 'file') {
                    url.host = base.host;
                    url.path = base.path.slice();
                    url.query = base.query;
                    if (c === 0x3f) {
                        url.query = '';
                        state = S_QUERY;
                    } else if (c === 0x23) {
                        url.fragment = '';
                        state = S_FRAGMENT;
                    } else if (c !== EOF) {
                        url.query = null;
                        if (!startsWithDriveLetter(cps, p))
                            shortenPath(url);
                        else
                            url.path = [];
                        state = S_PATH;
                        p--;
                    }
                } else {
                    state = S_PATH;
                    p--;
                }
                break;

            case S_FILE_SLASH:
                if (c === 0x2f || c === 0x5c) {
                    state = S_FILE_HOST;
                } else {
                    if (base !== null && base.scheme === 'file') {
                        url.host = base.host;
                        if (!startsWithDriveLetter(cps, p) && base.path.length > 0 &&
                            isDriveLetter(base.path[0], true))
                            url.path.push(base.path[0]);
                    }
                    state = S_PATH;
                    p--;
                }
                break;

            case S_FILE_HOST:
                if (c === EOF || c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23) {
                    p--;
                    if (!stateOverride && isDriveLetter(buffer, false)) {
                        state = S_PATH;
                    } else if (buffer === '') {
                        url.host = '';
                        if (stateOverride)
                            return url;
                        state = S_PATH_START;
                    } else {
                        let host = parseHost(buffer, false);
                        if (host === null)
                            return FAILURE;
                        if (host === 'localhost')
                            host = '';
                        url.host = host;
                        if (stateOverride)
                            return url;
                        buffer = '';
                        state = S_PATH_START;
                    }
                } else {
                    buffer += chr(c);
                }
                break;

            case S_PATH_START:
                if (special) {
                    state = S_PATH;
                    if (c !== 0x2f && c !== 0x5c)
                        p--;
                } else if (!stateOverride && c === 0x3f) {
                    url.query = '';
                    state = S_QUERY;
                } else if (!stateOverride && c === 0x23) {
                    url.fragment = '';
                    state = S_FRAGMENT;
                } else if (c !== EOF) {
                    state = S_PATH;
                    if (c !== 0x2f)
                        p--;
                } else if (stateOverride && url.host === null) {
                    url.path.push('');
                }
                break;

            case S_PATH: {
                const slash = c === 0x2f || (special && c === 0x5c);
                if (c === EOF || slash || (!stateOverride && (c === 0x3f || c === 0x23))) {
                    if (isDoubleDot(buffer)) {
                        shortenPath(url);
                        if (!slash)
                            url.path.push('');
                    } else if (isSingleDot(buffer) && !slash) {
                        url.path.push('');
                    } else if (!isSingleDot(buffer)) {
                        if (url.scheme === 'file' && url.path.length === 0 &&
                            isDriveLetter(buffer, false))
                            buffer = `${buffer[0]}:`;
                        url.path.push(buffer);
                    }
                    buffer = '';
                    if (c === 0x3f) {
                        url.query = '';
                        state = S_QUERY;
                    } else if (c === 0x23) {
                        url.fragment = '';
                        state = S_FRAGMENT;
                    }
                } else {
                    buffer += c < 0x80 && !PATH_SET[c] ? String.fromCharCode(c)
                        : encodeCodePoint(c, PATH_SET);
                }
                break;
            }

            case S_OPAQUE_PATH:
                if (c === 0x3f) {
                    url.query = '';
                    state = S_QUERY;
                } else if (c === 0x23) {
                    url.fragment = '';
                    state = S_FRAGMENT;
                } else if (c !== EOF) {
                    url.path += c < 0x80 && !C0_SET[c] ? String.fromCharCode(c)
                        : encodeCodePoint(c, C0_SET);
                }
                break;

            case S_QUERY:
                if ((!stateOverride && c === 0x23) || c === EOF) {
                    url.query += encodeString(buffer, special ? SPECIAL_QUERY_SET : QUERY_SET);
                    buffer = '';
                    if (c === 0x23) {
                        url.fragment = '';
                        state = S_FRAGMENT;
                    }
                } else if (c !== EOF) {
                    buffer += chr(c);
                }
                break;

            case S_FRAGMENT:
                if (c !== EOF) {
                    url.fragment += c < 0x80 && !FRAGMENT_SET[c] ? String.fromCharCode(c)
                        : encodeCodePoint(c, FRAGMENT_SET);
                }
                break;
            }

            if (p >= cps.length)
                break;
            p++;
        }
        return url;
    }

    function serializePath(r) {
        if (hasOpaquePath(r))
            return r.path;
        let out = '';
        for (const segment of r.path)
            out += `/${segment}`;
        return out;
    }

    function serializeHostPort(r) {
        return r.port === null ? r.host : `${r.host}:${r.port}`;
    }

    function serialize(r, excludeFragment = false) {
        let out = `${r.scheme}:`;
        if (r.host !== null) {
            out += '//';
            if (includesCredentials(r)) {
                out += r.username;
                if (r.password !== '')
                    out += `:${r.password}`;
                out += '@';
            }
            out += serializeHostPort(r);
        } else if (!hasOpaquePath(r) && r.path.length > 1 && r.path[0] === '') {
            out += '/.';
        }
        out += serializePath(r);
        if (r.query !== null)
            out += `?${r.query}`;
        if (!excludeFragment && r.fragment !== null)
            out += `#${r.fragment}`;
        return out;
    }

    function serializeOrigin(r) {
        switch (r.scheme) {
        case 'blob': {
            const inner = basicParse(serializePath(r), null);
            if (inner !== FAILURE && (inner.scheme === 'http' || inner.scheme === 'https'))
                return serializeOrigin(inner);
            return 'null';
        }
        case 'ftp':
        case 'http':
        case 'https':
        case 'ws':
        case 'wss':
            return `${r.scheme}://${serializeHostPort(r)}`;
        default:
            return 'null';
        }
    }

    function stripTrailingSpacesFromOpaquePath(r) {
        if (!hasOpaquePath(r) || r.fragment !== null || r.query !== null)
            return;
        let end = r.path.length;
        while (end > 0 && r.path.charCodeAt(end - 1) === 0x20)
            end--;
        r.path = r.path.slice(0, end);
    }

    // ---- application/x-www-form-urlencoded --------------------------------------------------

    function parseForm(s) {
        const list = [];
        let start = 0;
        while (start <= s.length) {
            let end = s.indexOf('&', start);
            if (end < 0)
                end = s.length;
            if (end > start) {
                const seq = s.slice(start, end);
                const eq = seq.indexOf('=');
                let name = eq < 0 ? seq : seq.slice(0, eq);
                let value = eq < 0 ? '' : seq.slice(eq + 1);
                if (name.includes('+'))
                    name = name.replaceAll('+', ' ');
                if (value.includes('+'))
                    value = value.replaceAll('+', ' ');
                list.push([formDecode(name), formDecode(value)]);
            }
            start = end + 1;
        }
        return list;
    }

    function formDecode(s) {
        let plain = true;
        for (let i = 0; i < s.length && plain; i++)
            plain = s.charCodeAt(i) < 0x80 && s.charCodeAt(i) !== 0x25;
        return plain ? s : decodeUtf8NoBom(percentDecode(s));
    }

    function serializeForm(list) {
        let out = '';
        for (let i = 0; i < list.length; i++) {
            if (i > 0)
                out += '&';
            out += `${encodeString(list[i][0], FORM_SET, true)}=${encodeString(list[i][1], FORM_SET, true)}`;
        }
        return out;
    }

    // ---- URLSearchParams ------------------------------------------------------------------

    function requireArgs(n, given, what) {
        if (given < n) {
            throw new TypeError(`Failed to execute '${what}': ${n} argument${n === 1 ? '' : 's'} required, but only ${given} present.`);
        }
    }

    // A URLSearchParams' list and the URL it belongs to (or null), behind one private slot.
    let paramsState; // (params) => state, set in the class's static block

    class URLSearchParams {
        #state;

        constructor(init = undefined) {
            if (init === internals.INTERNAL) {
                this.#state = { list: [], url: arguments[1] };
                return;
            }
            const list = [];
            this.#state = { list, url: null };
            if (init === undefined)
                return;
            if ((typeof init === 'object' && init !== null) || typeof init === 'function') {
                if (init instanceof URLSearchParams) {
                    for (const [n, v] of init.#state.list)
                        list.push([n, v]);
                    return;
                }
                const iter = init[Symbol.iterator];
                if (iter !== undefined && iter !== null) {
                    if (typeof iter !== 'function')
                        throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.");
                    for (const pair of init) {
                        if ((typeof pair !== 'object' || pair === null) && typeof pair !== 'function')
                            throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.");
                        const items = Array.from(pair);
                        if (items.length !== 2)
                            throw new TypeError("Failed to construct 'URLSearchParams': Sequence initializer must only contain pair elements");
                        list.push([toUSV(items[0]), toUSV(items[1])]);
                    }
                } else {
                    for (const key of Reflect.ownKeys(init)) {
                        const desc = Reflect.getOwnPropertyDescriptor(init, key);
                        if (desc === undefined || !desc.enumerable)
                            continue;
                        if (typeof key === 'symbol')
                            throw new TypeError("Failed to construct 'URLSearchParams': record keys must be strings");
                        list.push([toUSV(key), toUSV(init[key])]);
                    }
                }
                return;
            }
            let s = toUSV(init);
            if (s.charCodeAt(0) === 0x3f)
                s = s.slice(1);
            this.#state.list = parseForm(s);
        }

        static {
            paramsState = (params) => params.#state;
        }

        #update() {
            const url = this.#state.url;
            if (url === null)
                return;
            const query = serializeForm(this.#state.list);
            url.query = query === '' ? null : query;
            if (url.query === null)
                stripTrailingSpacesFromOpaquePath(url);
        }

        get size() {
            return this.#state.list.length;
        }

        append(name, value) {
            requireArgs(2, arguments.length, 'append');
            this.#state.list.push([toUSV(name), toUSV(value)]);
            this.#update();
        }

        delete(name, value = undefined) {
            requireArgs(1, arguments.length, 'delete');
            const n = toUSV(name);
            const v = value === undefined ? undefined : toUSV(value);
            this.#state.list = this.#state.list.filter(([k, x]) => k !== n || (v !== undefined && x !== v));
            this.#update();
        }

        get(name) {
            requireArgs(1, arguments.length, 'get');
            const n = toUSV(name);
            for (const [k, v] of this.#state.list) {
                if (k === n)
                    return v;
            }
            return null;
        }

        getAll(name) {
            requireArgs(1, arguments.length, 'getAll');
            const n = toUSV(name);
            const out = [];
            for (const [k, v] of this.#state.list) {
                if (k === n)
                    out.push(v);
            }
            return out;
        }

        has(name, value = undefined) {
            requireArgs(1, arguments.length, 'has');
            const n = toUSV(name);
            const v = value === undefined ? undefined : toUSV(value);
            for (const [k, x] of this.#state.list) {
                if (k === n && (v === undefined || x === v))
                    return true;
            }
            return false;
        }

        set(name, value) {
            requireArgs(2, arguments.length, 'set');
            const n = toUSV(name), v = toUSV(value);
            const list = this.#state.list;
            const i = list.findIndex(([k]) => k === n);
            if (i < 0) {
                list.push([n, v]);
            } else {
                list[i][1] = v;
                this.#state.list = list.filter(([k], j) => j <= i || k !== n);
            }
            this.#update();
        }

        sort() {
            // stable, by code units of the name (Array.prototype.sort is stable)
            this.#state.list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
            this.#update();
        }

        forEach(callback, thisArg = undefined) {
            requireArgs(1, arguments.length, 'forEach');
            if (typeof callback !== 'function')
                throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': The callback provided as parameter 1 is not a function.");
            const list = this.#state;
            for (let i = 0; i < list.list.length; i++) {
                const [k, v] = list.list[i];
                callback.call(thisArg, v, k, this);
            }
        }

        entries() {
            return new ParamsIterator(this.#state, 'entries');
        }

        keys() {
            return new ParamsIterator(this.#state, 'keys');
        }

        values() {
            return new ParamsIterator(this.#state, 'values');
        }

        toString() {
            return serializeForm(this.#state.list);
        }

        get [Symbol.toStringTag]() {
            return 'URLSearchParams';
        }
    }
    Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
        value: URLSearchParams.prototype.entries, writable: true, enumerable: false,
        configurable: true,
    });

    // The live iterator Web IDL's iterable declarations make: it reads the list as it is at
    // each step.
    const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
    class ParamsIterator {
        #state;
        #kind;
        #index = 0;

        constructor(state, kind) {
            this.#state = state;
            this.#kind = kind;
        }

        next() {
            const list = this.#state.list;
            if (this.#index >= list.length)
                return { value: undefined, done: true };
            const [k, v] = list[this.#index++];
            const value = this.#kind === 'keys' ? k : this.#kind === 'values' ? v : [k, v];
            return { value, done: false };
        }
    }
    Object.setPrototypeOf(ParamsIterator.prototype, IteratorPrototype);
    Object.defineProperty(ParamsIterator.prototype, Symbol.toStringTag, {
        value: 'URLSearchParams Iterator', configurable: true,
    });

    // ---- URL --------------------------------------------------------------------------------

    // base parsed first (a failure is a TypeError naming it), then url against it.
    function parseWithBase(url, base) {
        let baseRecord = null;
        if (base !== undefined) {
            baseRecord = basicParse(toUSV(base), null);
            if (baseRecord === FAILURE)
                return FAILURE;
        }
        return basicParse(toUSV(url), baseRecord);
    }

    function invalidUrl(url, base) {
        const shown = String(url).slice(0, 200);
        return new TypeError(base === undefined ? `Invalid URL: ${shown}`
            : `Invalid URL: ${shown} (base ${String(base).slice(0, 200)})`);
    }

    class URL {
        #r;
        #params;

        constructor(url, base = undefined) {
            requireArgs(1, arguments.length, 'URL');
            const r = parseWithBase(url, base);
            if (r === FAILURE)
                throw invalidUrl(url, base);
            this.#r = r;
            this.#params = new URLSearchParams(internals.INTERNAL, r);
            paramsState(this.#params).list = r.query === null ? [] : parseForm(r.query);
        }

        static canParse(url, base = undefined) {
            requireArgs(1, arguments.length, 'canParse');
            return parseWithBase(url, base) !== FAILURE;
        }

        static parse(url, base = undefined) {
            requireArgs(1, arguments.length, 'parse');
            return parseWithBase(url, base) === FAILURE ? null : new URL(url, base);
        }

        #reparams() {
            paramsState(this.#params).list = this.#r.query === null ? [] : parseForm(this.#r.query);
        }

        get href() {
            return serialize(this.#r);
        }

        set href(value) {
            const s = toUSV(value);
            const r = basicParse(s, null);
            if (r === FAILURE)
                throw invalidUrl(s);
            // the search params object stays, now for the new record
            Object.assign(this.#r, r);
            this.#reparams();
        }

        get origin() {
            return serializeOrigin(this.#r);
        }

        get protocol() {
            return `${this.#r.scheme}:`;
        }

        set protocol(value) {
            basicParse(`${toUSV(value)}:`, null, this.#r, S_SCHEME_START);
        }

        get username() {
            return this.#r.username;
        }

        set username(value) {
            if (cannotHaveCredentialsOrPort(this.#r))
                return;
            this.#r.username = encodeString(toUSV(value), USERINFO_SET);
        }

        get password() {
            return this.#r.password;
        }

        set password(value) {
            if (cannotHaveCredentialsOrPort(this.#r))
                return;
            this.#r.password = encodeString(toUSV(value), USERINFO_SET);
        }

        get host() {
            const r = this.#r;
            return r.host === null ? '' : serializeHostPort(r);
        }

        set host(value) {
            if (hasOpaquePath(this.#r))
                return;
            this.#setWith(value, S_HOST);
        }

        get hostname() {
            return this.#r.host === null ? '' : this.#r.host;
        }

        set hostname(value) {
            if (hasOpaquePath(this.#r))
                return;
            this.#setWith(value, S_HOSTNAME);
        }

        get port() {
            return this.#r.port === null ? '' : String(this.#r.port);
        }

        set port(value) {
            if (cannotHaveCredentialsOrPort(this.#r))
                return;
            const s = toUSV(value);
            if (s === '')
                this.#r.port = null;
            else
                this.#setWith(s, S_PORT);
        }

        get pathname() {
            return serializePath(this.#r);
        }

        set pathname(value) {
            if (hasOpaquePath(this.#r))
                return;
            this.#r.path = [];
            basicParse(toUSV(value), null, this.#r, S_PATH_START);
        }

        get search() {
            const q = this.#r.query;
            return q === null || q === '' ? '' : `?${q}`;
        }

        set search(value) {
            const r = this.#r;
            let s = toUSV(value);
            if (s === '') {
                r.query = null;
                paramsState(this.#params).list = [];
                stripTrailingSpacesFromOpaquePath(r);
                return;
            }
            if (s.charCodeAt(0) === 0x3f)
                s = s.slice(1);
            r.query = '';
            basicParse(s, null, r, S_QUERY);
            this.#reparams();
        }

        get searchParams() {
            return this.#params;
        }

        get hash() {
            const f = this.#r.fragment;
            return f === null || f === '' ? '' : `#${f}`;
        }

        set hash(value) {
            const r = this.#r;
            let s = toUSV(value);
            if (s === '') {
                r.fragment = null;
                stripTrailingSpacesFromOpaquePath(r);
                return;
            }
            if (s.charCodeAt(0) === 0x23)
                s = s.slice(1);
            r.fragment = '';
            basicParse(s, null, r, S_FRAGMENT);
        }

        // As the standard says, a setter parses into the URL itself: what a parse that fails
        // halfway already set stays set (e.g. the host of "example.com:" with no port).
        #setWith(value, state) {
            basicParse(toUSV(value), null, this.#r, state);
        }

        toString() {
            return serialize(this.#r);
        }

        toJSON() {
            return serialize(this.#r);
        }

        get [Symbol.toStringTag]() {
            return 'URL';
        }
    }
    for (const key of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname',
        'port', 'pathname', 'search', 'searchParams', 'hash']) {
        const desc = Object.getOwnPropertyDescriptor(URL.prototype, key);
        desc.enumerable = true;
        Object.defineProperty(URL.prototype, key, desc);
    }

    // For the runtime (Request, Response.redirect): the serialized URL of s (against base, a
    // string, when given), or null when it does not parse.
    internals.parseUrl = function parseUrl(s, base = undefined) {
        const r = parseWithBase(s, base);
        return r === FAILURE ? null : serialize(r);
    };
    internals.URL = URL;
    internals.URLSearchParams = URLSearchParams;
    internals.urlSearchParamsString = (params) => serializeForm(paramsState(params).list);
    internals.expose('URL', URL);
    internals.expose('URLSearchParams', URLSearchParams);
})
