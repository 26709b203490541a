/*
 * The runtime snapshot: the process builds, once, a V8 startup snapshot whose default context
 * has the runtime's .js files already run (globals installed, `internals` filled), and every
 * later isolate is created from it, so no worker compiles or runs the runtime again. The
 * snapshot holds only what the runtime files make before any worker exists: no tenant, no env,
 * no worker's hooks (the shim takes those from `internals` in each new context). The native
 * bindings are plain function callbacks, listed as the snapshot's external references. When
 * the snapshot cannot be built, workers load the runtime from source as before (runtime.cc).
 */
#include <vector>

#include "isolates/shim_int.h"

namespace iso {

namespace {

const NativeFunction *const kTables[] = {kEncodingNatives, kConsoleNatives, kCallNatives,
                                         kStreamNatives};

std::vector<intptr_t> g_refs;
v8::StartupData g_blob = {nullptr, 0};
bool g_ready;

void build_refs()
{
    for (const NativeFunction *table : kTables)
        for (const NativeFunction *f = table; f->name; f++)
            g_refs.push_back(reinterpret_cast<intptr_t>(f->callback));
    g_refs.push_back(0);
}

} // namespace

void snapshot_build()
{
    if (g_ready)
        return;
    try {
        build_refs();
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
            if (run_runtime(&scratch, context, true, &internals, &err) == 0) {
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
