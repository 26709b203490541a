// WHATWG URL conformance: every case of the web-platform-tests URL data (urltestdata.json and
// setters_tests.json, outside the repository in ../shared/wpt/url, handed in by the runner as
// data modules) runs against our URL; the figure is printed as
//   WPT URL: N/M urltestdata, N/M setters
// and must not fall below the best-ever figure in tests/js/wpt_url_best.txt (same format). The
// failing cases are listed. Without the data the test says so and passes.
import { test, assert } from 'edged:test';
import urltestdata from 'edged:data/urltestdata';
import setters from 'edged:data/setters_tests';
import best from 'edged:data/wpt_url_best';

const PROPS = ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname',
    'search', 'hash'];
const MAX_LISTED = 40;

// null when the case passes, else why not.
function urlCase(t) {
    const base = t.base === null || t.base === undefined ? undefined : t.base;
    let url;
    try {
        url = base === undefined ? new URL(t.input) : new URL(t.input, base);
    } catch (e) {
        if (t.failure && e instanceof TypeError)
            return null;
        return t.failure ? `threw ${e}` : `threw ${e.name}: ${e.message}`;
    }
    if (t.failure)
        return `parsed as ${url.href}, expected failure`;
    if (URL.canParse(t.input, base) !== true)
        return 'URL.canParse returned false';
    const diffs = [];
    for (const p of PROPS) {
        if (url[p] !== t[p])
            diffs.push(`${p} ${JSON.stringify(url[p])} (expected ${JSON.stringify(t[p])})`);
    }
    if ('origin' in t && url.origin !== t.origin)
        diffs.push(`origin ${JSON.stringify(url.origin)} (expected ${JSON.stringify(t.origin)})`);
    if ('searchParams' in t && url.searchParams.toString() !== t.searchParams)
        diffs.push(`searchParams ${JSON.stringify(url.searchParams.toString())}`);
    return diffs.length === 0 ? null : diffs.join(', ');
}

function setterCase(setter, t) {
    let url;
    try {
        url = new URL(t.href);
        url[setter] = t.new_value;
    } catch (e) {
        return `threw ${e.name}: ${e.message}`;
    }
    const diffs = [];
    for (const [p, v] of Object.entries(t.expected)) {
        if (url[p] !== v)
            diffs.push(`${p} ${JSON.stringify(url[p])} (expected ${JSON.stringify(v)})`);
    }
    return diffs.length === 0 ? null : diffs.join(', ');
}

function figures(text) {
    const m = /WPT URL: (\d+)\/(\d+) urltestdata, (\d+)\/(\d+) setters/.exec(text ?? '');
    return m === null ? null : m.slice(1).map(Number);
}

test('WPT URL data: every case runs and the figure stays at its best', () => {
    if (urltestdata === null || setters === null) {
        console.log('WPT URL: skipped (no ../shared/wpt/url data next to the repository)');
        return;
    }
    const failures = [];
    let urlPassed = 0, urlTotal = 0;
    for (const t of urltestdata) {
        if (typeof t !== 'object')
            continue; // a comment
        urlTotal++;
        const why = urlCase(t);
        if (why === null)
            urlPassed++;
        else
            failures.push(`urltestdata ${JSON.stringify(t.input)} base ${JSON.stringify(t.base)}: ${why}`);
    }
    let setPassed = 0, setTotal = 0;
    for (const [setter, cases] of Object.entries(setters)) {
        if (setter === 'comment')
            continue;
        for (const t of cases) {
            setTotal++;
            const why = setterCase(setter, t);
            if (why === null)
                setPassed++;
            else
                failures.push(`setters ${setter} ${JSON.stringify(t.href)} = ${JSON.stringify(t.new_value)}: ${why}`);
        }
    }
    for (const f of failures.slice(0, MAX_LISTED))
        console.log(`  WPT URL failing: ${f}`);
    if (failures.length > MAX_LISTED)
        console.log(`  ... and ${failures.length - MAX_LISTED} more`);
    const line = `WPT URL: ${urlPassed}/${urlTotal} urltestdata, ${setPassed}/${setTotal} setters`;
    console.log(line);

    const record = figures(best);
    assert(record !== null, 'tests/js/wpt_url_best.txt must hold the best figure, as printed');
    const [bestUrl, , bestSet] = record;
    assert(urlPassed >= bestUrl, `urltestdata fell below its best (${bestUrl})`);
    assert(setPassed >= bestSet, `setters fell below their best (${bestSet})`);
    if (urlPassed > bestUrl || setPassed > bestSet)
        console.log(`WPT URL: a new best; record it in tests/js/wpt_url_best.txt: ${line}`);
});
