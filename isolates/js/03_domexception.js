// DOMException (Web IDL): the error type Web APIs throw for conditions a TypeError or
// RangeError does not name (InvalidCharacterError from atob, DataCloneError from
// structuredClone, AbortError, the Web Crypto errors...). name, message and code are getters on
// the prototype, as Web IDL specifies; code is the legacy number for the names that have one,
// else 0, and the legacy constants (INDEX_SIZE_ERR...) sit on the constructor and the
// prototype. It inherits from Error, so `instanceof Error` holds and instances carry a stack.
// The runtime throws it through internals.DOMException, which keeps working whatever a worker
// does to the global. A lazy runtime file (lazy.cc): it runs on a worker's first use of
// DOMException or of what throws one (crypto, atob, structuredClone).
'use strict';
(function (internals) {
    // Error names with a legacy code (Web IDL's table); any other name has code 0.
    const CODES = {
        IndexSizeError: 1,
        HierarchyRequestError: 3,
        WrongDocumentError: 4,
        InvalidCharacterError: 5,
        NoModificationAllowedError: 7,
        NotFoundError: 8,
        NotSupportedError: 9,
        InUseAttributeError: 10,
        InvalidStateError: 11,
        SyntaxError: 12,
        InvalidModificationError: 13,
        NamespaceError: 14,
        InvalidAccessError: 15,
        TypeMismatchError: 17,
        SecurityError: 18,
        NetworkError: 19,
        AbortError: 20,
        URLMismatchError: 21,
        QuotaExceededError: 22,
        TimeoutError: 23,
        InvalidNodeTypeError: 24,
        DataCloneError: 25,
    };
    Object.setPrototypeOf(CODES, null);

    const CONSTANTS = [
        ['INDEX_SIZE_ERR', 1], ['DOMSTRING_SIZE_ERR', 2], ['HIERARCHY_REQUEST_ERR', 3],
        ['WRONG_DOCUMENT_ERR', 4], ['INVALID_CHARACTER_ERR', 5], ['NO_DATA_ALLOWED_ERR', 6],
        ['NO_MODIFICATION_ALLOWED_ERR', 7], ['NOT_FOUND_ERR', 8], ['NOT_SUPPORTED_ERR', 9],
        ['INUSE_ATTRIBUTE_ERR', 10], ['INVALID_STATE_ERR', 11], ['SYNTAX_ERR', 12],
        ['INVALID_MODIFICATION_ERR', 13], ['NAMESPACE_ERR', 14], ['INVALID_ACCESS_ERR', 15],
        ['VALIDATION_ERR', 16], ['TYPE_MISMATCH_ERR', 17], ['SECURITY_ERR', 18],
        ['NETWORK_ERR', 19], ['ABORT_ERR', 20], ['URL_MISMATCH_ERR', 21],
        ['QUOTA_EXCEEDED_ERR', 22], ['TIMEOUT_ERR', 23], ['INVALID_NODE_TYPE_ERR', 24],
        ['DATA_CLONE_ERR', 25],
    ];

    class DOMException extends Error {
        #name;
        #message;

        constructor(message = undefined, name = undefined) {
            super();
            this.#message = message === undefined ? '' : String(message);
            this.#name = name === undefined ? 'Error' : String(name);
        }

        get name() {
            return this.#name;
        }

        get message() {
            return this.#message;
        }

        get code() {
            return CODES[this.#name] ?? 0;
        }
    }

    const constants = {};
    for (const [key, value] of CONSTANTS)
        constants[key] = { value, writable: false, enumerable: true, configurable: false };
    Object.defineProperties(DOMException, constants);
    Object.defineProperties(DOMException.prototype, constants);
    for (const key of ['name', 'message', 'code']) {
        const desc = Object.getOwnPropertyDescriptor(DOMException.prototype, key);
        desc.enumerable = true;
        Object.defineProperty(DOMException.prototype, key, desc);
    }
    Object.defineProperty(DOMException.prototype, Symbol.toStringTag, {
        value: 'DOMException', writable: false, enumerable: false, configurable: true,
    });

    internals.DOMException = DOMException;
    internals.expose('DOMException', DOMException);
})
