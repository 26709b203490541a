/*
 * Moving values and failures across the C line: V8 strings to and from UTF-8, a thrown value
 * to the text a tenant reads in their log, and a failed JavaScript step to an error code. Text
 * taken out of an isolate is bounded (kMaxMessage) because its size is the tenant's choice.
 */
#include "isolates/shim_int.h"

namespace iso {

std::string utf8(v8::Isolate *isolate, v8::Local<v8::String> s, size_t max)
{
    size_t n = (size_t)s->Utf8Length(isolate);
    std::string out(n < max ? n : max, '\0');
    int written = s->WriteUtf8(isolate, out.data(), (int)out.size(), nullptr,
                               v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    out.resize((size_t)written);
    return out;
}

v8::MaybeLocal<v8::String> str(v8::Isolate *isolate, const char *s, size_t len)
{
    if (len > (size_t)v8::String::kMaxLength)
        return {};
    return v8::String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, (int)len);
}

v8::Local<v8::String> str(v8::Isolate *isolate, const char *literal)
{
    return v8::String::NewFromUtf8(isolate, literal, v8::NewStringType::kInternalized)
        .ToLocalChecked();
}

namespace {

/* The runtime's own frames ("    at dispatch (edged:runtime/90_worker.js:20:44)") say nothing
 * to a tenant; the tenant's frames around them stay. */
std::string strip_runtime_frames(const std::string &stack)
{
    std::string out;
    size_t start = 0;
    while (start < stack.size()) {
        size_t end = stack.find('\n', start);
        if (end == std::string::npos)
            end = stack.size();
        std::string line = stack.substr(start, end - start);
        size_t at = line.find_first_not_of(' ');
        bool runtime_frame = at != std::string::npos && line.compare(at, 3, "at ") == 0 &&
                             line.find("edged:runtime/") != std::string::npos;
        if (!runtime_frame)
            out += (out.empty() ? "" : "\n") + line;
        start = end + 1;
    }
    return out;
}

} // namespace

std::string exception_text(v8::Isolate *isolate, v8::Local<v8::Value> exception)
{
    v8::TryCatch inner(isolate);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (exception->IsObject()) {
        v8::Local<v8::Value> stack;
        if (exception.As<v8::Object>()->Get(context, str(isolate, "stack")).ToLocal(&stack) &&
            stack->IsString() && stack.As<v8::String>()->Length() > 0)
            return strip_runtime_frames(utf8(isolate, stack.As<v8::String>()));
    }
    v8::Local<v8::String> s;
    if (exception->ToString(context).ToLocal(&s))
        return utf8(isolate, s);
    return "(an exception that cannot be converted to a string)";
}

std::string location_of(v8::Isolate *isolate, v8::Local<v8::Message> message)
{
    if (message.IsEmpty())
        return "";
    v8::Local<v8::Value> name = message->GetScriptResourceName();
    int line = message->GetLineNumber(isolate->GetCurrentContext()).FromMaybe(0);
    if (!name->IsString() || line <= 0)
        return "";
    return utf8(isolate, name.As<v8::String>(), 1024) + ":" + std::to_string(line);
}

int js_failure(iso_worker *w, v8::TryCatch &try_catch, int code, const char *what, ed_error *err)
{
    int rc = stopped(w, err);
    if (rc == 0 && (try_catch.HasTerminated() || w->isolate->IsExecutionTerminating()))
        rc = ed_error_set(err, ED_ETERMINATED, "%s", ed_strerror(ED_ETERMINATED));
    if (rc == 0) {
        std::string text = try_catch.HasCaught() ? exception_text(w->isolate, try_catch.Exception())
                                                 : std::string("no exception was reported");
        if (what)
            rc = ed_error_set(err, code, "%s: %s", what, text.c_str());
        else
            rc = ed_error_set(err, code, "%s", text.c_str());
    }
    if (!try_catch.HasTerminated())
        try_catch.Reset();
    return rc;
}

void pump(iso_worker *w)
{
    v8::Isolate::Scope isolate_scope(w->isolate);
    v8::HandleScope handle_scope(w->isolate);
    /* Bounded: a task may post another, and the shard has other work to do. */
    for (int i = 0; i < 16; i++)
        if (!v8::platform::PumpMessageLoop(platform(), w->isolate,
                                           v8::platform::MessageLoopBehavior::kDoNotWait))
            break;
}

} // namespace iso
