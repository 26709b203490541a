// Small globals of the HTML Standard that workers expect and that V8 does not provide.
'use strict';
(function (internals) {
    function queueMicrotask(callback) {
        if (typeof callback !== 'function')
            throw new TypeError('queueMicrotask: the callback must be a function');
        Promise.resolve().then(() => callback());
    }

    internals.expose('queueMicrotask', queueMicrotask);
})
