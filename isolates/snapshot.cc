/*
 * The runtime snapshot: the process builds, once, a V8 startup snapshot whose default context
 * has the runtime's .js files already run (globals installed, `internals` filled), and every
 * later isolate is created from it, so no worker compiles or runs the runtime again. The
 * snapshot holds only what the runtime files make before any worker exists: no tenant, no env,
 * no worker's hooks (the shim takes those from `internals` in each new context). The native
 * bindings are plain function callbacks, listed as the snapshot's external references. When
 * the snapshot cannot be built, workers load the runtime from source as before (runtime.cc).
 *
 * Which runtime functions the snapshot holds compiled decides both what a child's first call
 * costs and what every isolate carries. All of them (eager compilation) cost each child 60 KB
 * of RSS more than what its first call runs (streams, console and encoding functions it
 * rarely needs); none (lazy) made a child's first call compile what it runs (0.25 ms more from
 * get() to its first answer). So the snapshot holds what a child's first calls run: before
 * building it, a scratch child made from source is called once the way a parent calls a child
 * (a fetch and an RPC method), and the snapshot's context compiles the runtime from the code
 * caches of that child's runtime files, which carry the bytecode of every function it
 * compiled. Functions off that path (and a parent's dispatch path, compiled once per parent
 * isolate) compile on first use. If the warm-up fails, the snapshot compiles everything. The
 * lazy runtime files (lazy.cc) are in neither: after the caches above are taken, the scratch
 * child uses each of them as workers usually do, and their code caches become the process's,
 * so a worker's first use of URL or crypto compiles nothing the warm-up ran.
 */
#include <cstring>
#include <string>
#include <vector>

#include "isolates/shim_int.h"

namespace iso {

namespace {

std::vector<intptr_t> g_refs;
v8::StartupData g_blob = {nullptr, 0};
bool g_ready;
bool g_warmed; /* the snapshot holds the warm-up's bytecode */

void build_refs()
{
    for (size_t t = 0; t < kNumNativeTables; t++)
        for (const NativeFunction *f = kNativeTables[t]; f->name; f++)
            g_refs.push_back(reinterpret_cast<intptr_t>(f->callback));
    source_refs(&g_refs);
    lazy_refs(&g_refs);
    g_refs.push_back(0);
}

void on_warm_result(void *ud, int code, const uint8_t *, size_t, const char *)
{
    *static_cast<int *>(ud) = code;
}

/* The scratch child's caller, as a parent names itself to its children. */
constexpr uint64_t kWarmPeer = 1;

/* Calls method of w's default export with the arguments in json (an array; NULL: one Request
 * for http://warm-up/, as a parent's fetch() sends it), as a parent's getEntrypoint() does;
 * true when it answered without an error. */
bool warm_call(iso_worker *w, const char *method, const char *json)
{
    std::string args;
    {
        v8::Isolate::Scope isolate_scope(w->isolate);
        v8::HandleScope handle_scope(w->isolate);
        v8::Local<v8::Context> context = w->context.Get(w->isolate);
        v8::Context::Scope context_scope(context);
        v8::TryCatch try_catch(w->isolate);
        v8::Local<v8::Value> value;
        if (json) {
            v8::Local<v8::String> text;
            if (!str(w->isolate, json, strlen(json)).ToLocal(&text) ||
                !v8::JSON::Parse(context, text).ToLocal(&value))
                return false;
        } else {
            v8::Local<v8::Value> ctor, url = str(w->isolate, "http://warm-up/");
            v8::Local<v8::Object> request;
            if (!context->Global()->Get(context, str(w->isolate, "Request")).ToLocal(&ctor) ||
                !ctor->IsFunction() ||
                !ctor.As<v8::Function>()->NewInstance(context, 1, &url).ToLocal(&request))
                return false;
            v8::Local<v8::Value> one[] = {request};
            value = v8::Array::New(w->isolate, one, 1);
        }
        if (!serialize(w, context, value, Mode::kArgs, nullptr, &args))
            return false;
    }
    int code = 1;
    ed_error err = {};
    int rc = iso_worker_invoke(w, nullptr, method, nullptr, 0,
                               reinterpret_cast<const uint8_t *>(args.data()), args.size(),
                               kWarmPeer, 0, nullptr, on_warm_result, &code, &err);
    ed_error_dispose(&err);
    return rc == 0 && code == 0;
}

/* Code caches of the runtime as a child's first calls leave it (see the file comment); false
 * when the scratch child could not be made or did not answer. Then the scratch child uses the
 * lazy runtime files the way workers usually do, and their caches go to lazy.cc. */
bool warm_up(CodeCaches *out)
{
    static const char kModule[] =
        "export default {\n"
        "  fetch(request, env, ctx) { return new Response('warm'); },\n"
        "  echo(value) { return value; },\n"
        "  async lazy(env) {\n"
        "    const url = new URL('https://user@warm-up.example:8080/a/./b/../c?d=e&f=g#h');\n"
        "    url.searchParams.append('i', 'j k');\n"
        "    const params = new URLSearchParams(url.search);\n"
        "    params.get('d');\n"
        "    const id = crypto.randomUUID();\n"
        "    crypto.getRandomValues(new Uint8Array(16));\n"
        "    const data = new TextEncoder().encode(url.href + id);\n"
        "    await crypto.subtle.digest('SHA-256', data);\n"
        "    const key = await crypto.subtle.importKey('raw', new Uint8Array(32),\n"
        "      { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);\n"
        "    const mac = await crypto.subtle.sign('HMAC', key, data);\n"
        "    await crypto.subtle.verify('HMAC', key, mac, data);\n"
        "    new TextDecoder().decode(data);\n"
        "    structuredClone({ a: [atob(btoa(id))] });\n"
        "    await new Promise((resolve) => queueMicrotask(resolve));\n"
        "    console.log('warm %s', id, { data }, [1], new Error('e'));\n"
        "    env.LOADER.get('warm', () => ({})).getEntrypoint();\n"
        "    const target = new EventTarget();\n"
        "    target.addEventListener('x', (e) => e.type, { once: true });\n"
        "    target.dispatchEvent(new Event('x'));\n"
        "    const controller = new AbortController();\n"
        "    controller.signal.addEventListener('abort', () => {});\n"
        "    controller.abort();\n"
        "    clearTimeout(setTimeout(() => {}, 1));\n"
        "    performance.now();\n"
        "    const reader = new Response('warm').body.getReader();\n"
        "    while (!(await reader.read()).done);\n"
        "    const decoded = new ReadableStream({\n"
        "      start(c) { c.enqueue(data); c.close(); },\n"
        "    }).pipeThrough(new TextDecoderStream()).getReader();\n"
        "    while (!(await decoded.read()).done);\n"
        "    const { writable, readable } = new TransformStream();\n"
        "    const writer = writable.getWriter();\n"
        "    writer.write(data);\n"
        "    writer.close();\n"
        "    await new Response(readable).arrayBuffer();\n"
        "    const form = new FormData();\n"
        "    form.append('a', 'b');\n"
        "    form.append('c', new Blob([data]), 'd.txt');\n"
        "    await new Response(form).formData();\n"
        "    await new Blob(['e', data]).text();\n"
        "    typeof fetch;\n"
        "  },\n"
        "};\n";
    iso_module module = {"warm.js", kModule, sizeof kModule - 1, ISO_MODULE_ESM};
    iso_worker_config cfg = {};
    cfg.tenant = "";
    cfg.worker = "warm-up";
    cfg.modules = &module;
    cfg.n_modules = 1;
    cfg.main_module = "warm.js";
    cfg.child = true;
    static const char *const kLoaders[] = {"LOADER"}; /* never called: there is no host */
    cfg.loaders = kLoaders;
    cfg.n_loaders = 1;
    iso_worker *w = nullptr;
    ed_error err = {};
    int rc = new_worker(&cfg, true, &w, &err);
    ed_error_dispose(&err);
    if (rc)
        return false;
    bool ok = warm_call(w, "fetch", nullptr) && warm_call(w, "echo", "[\"warm\"]") &&
              runtime_caches(w, out);
    CodeCaches lazy;
    if (ok && warm_call(w, "lazy", "[]") && runtime_caches(w, &lazy))
        set_lazy_caches(&lazy);
    iso_worker_free(w);
    return ok;
}

} // namespace

void snapshot_build()
{
    if (g_ready)
        return;
    try {
        build_refs();
        CodeCaches warm;
        bool warmed = warm_up(&warm);
        g_warmed = warmed;
        v8::SnapshotCreator creator(g_refs.data());
        v8::Isolate *isolate = creator.GetIsolate();
        /* The runtime's loader needs a worker to report through; this one lives only here. */
        iso_worker scratch;
        scratch.isolate = isolate;
        isolate->SetData(kWorkerSlot, &scratch);
        bool ok = false;
        {
            v8::Isolate::Scope isolate_scope(isolate);
            v8::HandleScope handle_scope(isolate);
            v8::Local<v8::Context> context = v8::Context::New(isolate);
            v8::Context::Scope context_scope(context);
            ed_error err = {};
            v8::Local<v8::Object> internals;
            if (run_runtime(&scratch, context, warmed ? Compile::kWarm : Compile::kEager, &warm,
                            &internals, &err) == 0) {
                creator.AddData(context, internals);
                creator.SetDefaultContext(context);
                ok = true;
            }
            ed_error_dispose(&err);
            scratch.hooks.reset();
            scratch.internals.Reset();
            scratch.runtime_scripts.clear();
        }
        isolate->SetData(kWorkerSlot, nullptr);
        scratch.isolate = nullptr;
        if (!ok)
            return;
        g_blob = creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
        g_ready = g_blob.data && g_blob.raw_size > 0;
    } catch (...) {
        g_ready = false;
    }
}

void snapshot_dispose()
{
    delete[] g_blob.data;
    g_blob = {nullptr, 0};
    g_ready = false;
}

bool snapshot_params(v8::Isolate::CreateParams *params)
{
    if (!g_ready)
        return false;
    params->snapshot_blob = &g_blob;
    params->external_references = g_refs.data();
    return true;
}

} // namespace iso

extern "C" bool iso__snapshot_warmed(void) noexcept
{
    return iso::g_warmed;
}
