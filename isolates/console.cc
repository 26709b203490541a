/*
 * Where console.* output leaves the isolate: native.print(level, text) hands one formatted
 * line (isolates/js/80_console.js does the formatting) to the worker's log callback, which
 * writes the tenant's log. Lines are capped at kMaxMessage bytes.
 */
#include "isolates/shim_int.h"

namespace iso {

namespace {

const char *const kLevels[] = {"debug", "log", "info", "warn", "error"};

/* native.print(level, text) */
void print(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    auto *w = static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
    if (!w || !w->log || !info[0]->IsString() || !info[1]->IsString())
        return;
    try {
        std::string level = utf8(isolate, info[0].As<v8::String>(), 16);
        for (const char *known : kLevels) {
            if (level == known) {
                std::string text = utf8(isolate, info[1].As<v8::String>());
                w->log(w->log_ud, known, text.data(), text.size());
                return;
            }
        }
    } catch (...) {
        /* Out of memory for the copy: the line is lost, not the process (no C++ exception
         * may unwind through V8's frames). */
    }
}

} // namespace

const NativeFunction kConsoleNatives[] = {
    {"print", print, "80_console.js"},
    {nullptr, nullptr},
};

} // namespace iso
