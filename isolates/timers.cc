/*
 * Timers and ctx.waitUntil(): the native half of isolates/js/07_timers.js and the
 * ExecutionContext of 65_rpc.js. A timer is a JS callback (with its arguments) that a worker's
 * invocation set, kept here with its due time; every worker of a thread with a pending timer
 * is registered, by its earliest due time, in the thread's registry, whose earliest deadline is
 * handed to the driver the thread attached (the shard's libuv timer, loader/shard.c). The
 * driver calls iso_timers_run() from a task of its loop and each due callback runs in an entry
 * of its own, on behalf of the invocation that set it: under that invocation's budgets, with
 * the frozen clock moved on, its microtasks and settled invocations handled before the next
 * timer. A timer keeps its invocation alive (finish() does not call a promise dead while a
 * timer may still fire) and dies with it; an invocation with a wall budget also gets a
 * deadline timer, so one that only waits (on timers, or on ctx.waitUntil() work after its
 * response) ends when its wall time does, even where nobody else watches it. A callback that
 * throws is logged to the tenant's log as "Uncaught ...", and the invocation goes on.
 */
#include <cmath>
#include <new>
#include <unordered_map>

#include "isolates/shim_int.h"

namespace iso {

namespace {

/* A runaway loop of setTimeout() would otherwise grow native memory the heap limit does not
 * see (about 200 bytes a timer, outside V8's heap). */
constexpr uint32_t kMaxTimersPerInvocation = 10000;
constexpr size_t kMaxTimersPerWorker = 100000;
/* setInterval(f, 0) would run f on every turn of the loop: intervals are at least 1 ms. */
constexpr uint64_t kMinInterval = 1000000;
/* A delay is at most 2^31 - 1 ms, as in browsers (longer ones are clamped, not wrapped). */
constexpr double kMaxDelayMs = 2147483647.0;

/* The calling thread's timers: its driver and its workers that have timers. */
struct ThreadTimers {
    const iso_timer_driver *driver = nullptr;
    std::set<std::pair<uint64_t, iso_worker *>> heads;  /* (earliest due, worker) */
    std::unordered_map<iso_worker *, uint64_t> workers; /* registered worker -> its serial */
    uint64_t next_serial = 1;
    uint64_t scheduled = 0; /* the deadline the driver was last given, 0: none */
};
thread_local ThreadTimers t_timers;

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void reschedule()
{
    ThreadTimers &t = t_timers;
    uint64_t next = t.heads.empty() ? 0 : t.heads.begin()->first;
    if (next == t.scheduled || !t.driver)
        return;
    t.scheduled = next;
    t.driver->schedule(t.driver->ud, next);
}

/* w's earliest due time changed (or may have): move it in the thread's registry. */
void update_head(iso_worker *w)
{
    ThreadTimers &t = t_timers;
    uint64_t head = w->timer_queue.empty() ? 0 : w->timer_queue.begin()->first;
    if (head == w->timer_head)
        return;
    if (w->timer_head)
        t.heads.erase({w->timer_head, w});
    if (head)
        t.heads.insert({head, w});
    w->timer_head = head;
    reschedule();
}

void erase_timer(iso_worker *w, std::map<uint64_t, Timer>::iterator it)
{
    Timer &t = it->second;
    w->timer_queue.erase({t.due, it->first});
    if (t.deadline) {
        if (Invocation *inv = live_invocation(w, t.inv))
            inv->deadline = false;
    } else {
        w->js_timers--;
        if (Invocation *inv = live_invocation(w, t.inv))
            inv->timers--;
    }
    w->timers.erase(it);
}

/* Adds a timer (its id assigned here); false when out of memory. */
bool add_timer(iso_worker *w, Timer &&timer, uint64_t *id)
{
    if (!w->timer_serial) {
        w->timer_serial = t_timers.next_serial++;
        t_timers.workers[w] = w->timer_serial;
    }
    uint64_t n = w->next_timer++;
    auto it = w->timers.emplace(n, std::move(timer)).first;
    try {
        w->timer_queue.insert({it->second.due, n});
    } catch (...) {
        w->timers.erase(it);
        throw;
    }
    *id = n;
    return true;
}

bool wall_over(const Invocation *inv)
{
    return inv->wall_budget && ed_now_ns() - inv->started >= inv->wall_budget;
}

void throw_error(v8::Isolate *isolate, v8::Local<v8::Value> (*make)(v8::Local<v8::String>),
                 const char *msg)
{
    isolate->ThrowException(make(str(isolate, msg)));
}

/* native.setTimer(callback, delayMs, repeat, args) -> id */
void set_timer(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !info[0]->IsFunction() || !info[3]->IsArray())
        return throw_error(isolate, v8::Exception::TypeError, "setTimeout: bad arguments");
    Invocation *inv = current_invocation(w);
    if (!inv)
        return throw_error(
            isolate, v8::Exception::Error,
            w->building
                ? "Disallowed operation called within global scope: setting a timeout is not "
                  "allowed at a module's top level. Set it from within a handler."
                : "A timer can only be set while a request or call is in progress.");
    if (inv->timers >= kMaxTimersPerInvocation || w->js_timers >= kMaxTimersPerWorker)
        return throw_error(isolate, v8::Exception::RangeError,
                           inv->timers >= kMaxTimersPerInvocation
                               ? "Too many timers: a request may have at most 10000 pending"
                               : "Too many timers: a worker may have at most 100000 pending");
    double ms = info[1]->IsNumber() ? info[1].As<v8::Number>()->Value() : 0;
    if (!(ms > 0)) /* NaN and negative delays are 0 */
        ms = 0;
    if (ms > kMaxDelayMs)
        ms = kMaxDelayMs;
    uint64_t ns = (uint64_t)(ms * 1e6);
    bool repeat = info[2]->IsTrue();
    v8::Local<v8::Array> args = info[3].As<v8::Array>();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    Timer t;
    t.due = ed_now_ns() + ns;
    t.interval = repeat ? (ns < kMinInterval ? kMinInterval : ns) : 0;
    t.inv = inv->id;
    uint64_t id = 0;
    try {
        t.fn.Reset(isolate, info[0].As<v8::Function>());
        t.args.reserve(args->Length());
        for (uint32_t i = 0; i < args->Length(); i++) {
            v8::Local<v8::Value> a;
            if (!args->Get(context, i).ToLocal(&a))
                return;
            t.args.emplace_back(isolate, a);
        }
        add_timer(w, std::move(t), &id);
        timers_deadline(w, inv);
        update_head(w);
    } catch (...) {
        return throw_error(isolate, v8::Exception::RangeError, "Out of memory setting a timer");
    }
    inv->timers++;
    w->js_timers++;
    info.GetReturnValue().Set(v8::Number::New(isolate, (double)id));
}

/* native.clearTimer(id): a timer of this worker's, not a deadline; anything else is ignored. */
void clear_timer(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    iso_worker *w = worker_of(info.GetIsolate());
    if (!w || !info[0]->IsNumber())
        return;
    double d = info[0].As<v8::Number>()->Value();
    if (!(d >= 1) || d != std::floor(d) || d >= (double)w->next_timer)
        return;
    auto it = w->timers.find((uint64_t)d);
    if (it == w->timers.end() || it->second.deadline)
        return;
    erase_timer(w, it);
    update_head(w);
}

/* native.hurryTimer(id): timer id (not a deadline) is due now; it keeps its invocation. A wait
 * that another invocation ends (67_objects.js's input gate) is a timer of the waiting
 * invocation hurried that way, so what follows it runs in an entry of the waiter's own. */
void hurry_timer(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    iso_worker *w = worker_of(info.GetIsolate());
    if (!w || !info[0]->IsNumber())
        return;
    double d = info[0].As<v8::Number>()->Value();
    if (!(d >= 1) || d != std::floor(d) || d >= (double)w->next_timer)
        return;
    auto it = w->timers.find((uint64_t)d);
    if (it == w->timers.end() || it->second.deadline)
        return;
    Timer &t = it->second;
    uint64_t now = ed_now_ns();
    if (t.due <= now)
        return;
    try {
        w->timer_queue.insert({now, it->first});
    } catch (...) {
        return; /* out of memory: it fires when it was due */
    }
    w->timer_queue.erase({t.due, it->first});
    t.due = now;
    update_head(w);
}

/* native.invocation() -> the id of the invocation JS runs for now, 0 for none. */
void invocation(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    iso_worker *w = worker_of(info.GetIsolate());
    Invocation *inv = w ? current_invocation(w) : nullptr;
    info.GetReturnValue().Set(v8::Number::New(info.GetIsolate(), inv ? (double)inv->id : 0));
}

/* native.waitUntil(id, promise) -> whether invocation id (still live) now waits for it. */
void wait_until(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    info.GetReturnValue().Set(false);
    if (!w || !info[0]->IsNumber() || !info[1]->IsPromise())
        return;
    double d = info[0].As<v8::Number>()->Value();
    Invocation *inv = d >= 1 ? live_invocation(w, (uint64_t)d) : nullptr;
    if (!inv || w->free_requested)
        return;
    try {
        inv->wait_until.emplace_back(isolate, info[1].As<v8::Promise>());
        if (inv->state == Invocation::State::kBackground)
            timers_deadline(w, inv);
    } catch (...) {
        return; /* out of memory: the promise is not waited for */
    }
    info.GetReturnValue().Set(true);
}

/* native.reportError(value): an exception nobody will catch, to the tenant's log. */
void report_error(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    iso_worker *w = worker_of(info.GetIsolate());
    if (w)
        report_uncaught(w, info[0]);
}

/* Ends inv, whose wall budget ran out while it waited (on timers or background work). */
void expire(iso_worker *w, Invocation *inv)
{
    run_in(w, inv, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, Entry &) {
        std::string msg = limit_message(ED_EWALLLIMIT);
        if (inv->state == Invocation::State::kBackground)
            background_end(w, inv, ED_EWALLLIMIT, msg);
        else if (inv->state == Invocation::State::kDone)
            return; /* answered already; its final callbacks are on their way */
        else if (inv->kind == Invocation::Kind::kCall)
            complete(w, inv, Invocation::Final::kResult, ED_EWALLLIMIT, msg);
        else
            fetch_cancel(w, inv, context, try_catch, ED_EWALLLIMIT, msg);
    });
}

/* Runs timer id of w if it is still there and due. */
void fire(iso_worker *w, uint64_t id)
{
    auto it = w->timers.find(id);
    if (it == w->timers.end())
        return;
    Invocation *inv = live_invocation(w, it->second.inv);
    if (!inv || w->stop_reason.load() || w->free_requested) {
        erase_timer(w, it);
        update_head(w);
        return;
    }
    if (it->second.deadline || wall_over(inv)) {
        if (it->second.deadline)
            erase_timer(w, it);
        update_head(w);
        if (wall_over(inv))
            expire(w, inv);
        return;
    }
    run_in(w, inv, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, Entry &) {
        v8::Isolate *isolate = w->isolate;
        auto t = w->timers.find(id);
        if (t == w->timers.end())
            return;
        v8::Local<v8::Function> fn = t->second.fn.Get(isolate);
        std::vector<v8::Local<v8::Value>> args;
        args.reserve(t->second.args.size());
        for (const v8::Global<v8::Value> &a : t->second.args)
            args.push_back(a.Get(isolate));
        if (t->second.interval) {
            /* The next run is due an interval from now; clearInterval() in the callback
             * removes it. */
            w->timer_queue.erase({t->second.due, id});
            t->second.due = ed_now_ns() + t->second.interval;
            w->timer_queue.insert({t->second.due, id});
        } else {
            erase_timer(w, t);
        }
        update_head(w);
        v8::MaybeLocal<v8::Value> r =
            fn->Call(context, v8::Undefined(isolate), (int)args.size(), args.data());
        if (r.IsEmpty() && try_catch.HasCaught() && !try_catch.HasTerminated()) {
            report_uncaught(w, try_catch.Exception());
            try_catch.Reset();
        }
    });
}

} // namespace

Invocation *live_invocation(iso_worker *w, uint64_t id)
{
    auto it = w->live.find(id);
    return it == w->live.end() ? nullptr : it->second;
}

bool timers_pending(iso_worker *w)
{
    return t_timers.driver && w->js_timers > 0;
}

void timers_deadline(iso_worker *w, Invocation *inv)
{
    if (!inv->wall_budget || inv->deadline)
        return;
    Timer t;
    t.due = inv->started + inv->wall_budget;
    t.deadline = true;
    t.inv = inv->id;
    uint64_t id;
    add_timer(w, std::move(t), &id);
    inv->deadline = true;
    update_head(w);
}

void timers_cancel_for(iso_worker *w, Invocation *inv)
{
    if (!inv->timers && !inv->deadline)
        return;
    for (auto it = w->timers.begin(); it != w->timers.end();) {
        auto next = std::next(it);
        if (it->second.inv == inv->id)
            erase_timer(w, it);
        it = next;
    }
    inv->timers = 0;
    inv->deadline = false;
    update_head(w);
}

void timers_clear(iso_worker *w)
{
    for (auto &entry : w->live) {
        entry.second->timers = 0;
        entry.second->deadline = false;
    }
    w->timers.clear();
    w->timer_queue.clear();
    w->js_timers = 0;
    update_head(w);
    if (w->timer_serial) {
        t_timers.workers.erase(w);
        w->timer_serial = 0;
    }
}

void report_uncaught(iso_worker *w, v8::Local<v8::Value> exception)
{
    if (!w->log)
        return;
    try {
        std::string text = "Uncaught " + exception_text(w->isolate, exception);
        w->log(w->log_ud, "error", text.data(), text.size());
    } catch (...) {
        /* out of memory for the message: the line is lost */
    }
}

const NativeFunction kTimerNatives[] = {
    {"setTimer", set_timer, "07_timers.js"},
    {"clearTimer", clear_timer, "07_timers.js"},
    {"invocation", invocation},
    {"waitUntil", wait_until},
    {"reportError", report_error},
    {"hurryTimer", hurry_timer, "67_objects.js"},
    {nullptr, nullptr},
};

} // namespace iso

extern "C" void iso_timers_attach(const struct iso_timer_driver *driver) noexcept
{
    iso::t_timers.driver = driver;
    iso::t_timers.scheduled = 0;
    if (driver && !iso::t_timers.heads.empty()) {
        iso::t_timers.scheduled = iso::t_timers.heads.begin()->first;
        driver->schedule(driver->ud, iso::t_timers.scheduled);
    }
}

extern "C" void iso_timers_run(void) noexcept
{
    iso::ThreadTimers &t = iso::t_timers;
    t.scheduled = 0; /* the driver's wake-up is spent */
    struct Due {
        iso_worker *w;
        uint64_t serial, id;
    };
    std::vector<Due> due;
    try {
        uint64_t now = ed_now_ns();
        for (const auto &head : t.heads) {
            if (head.first > now)
                break;
            iso_worker *w = head.second;
            for (const auto &q : w->timer_queue) {
                if (q.first > now)
                    break;
                due.push_back(Due{w, w->timer_serial, q.second});
            }
        }
        for (const Due &d : due) {
            /* A callback may have freed a worker (or another took its address). */
            auto it = t.workers.find(d.w);
            if (it == t.workers.end() || it->second != d.serial)
                continue;
            iso::fire(d.w, d.id);
        }
    } catch (...) {
        /* out of memory: what was not run stays due, for the next wake-up */
    }
    iso::reschedule();
}
