/*
 * Invocations and entries: how work in a worker is started, resumed and finished when it may
 * wait on other isolates. An invocation (a fetch, an RPC call, a stub call) is tracked from
 * its start until its final callback; it sits in the worker's in-flight table while its
 * promise is pending. Every stretch of JavaScript is an Entry, armed on the worker's watch slot
 * with the budget of the invocation it runs for, and the outermost entry of a worker ends by
 * running microtasks and moving every invocation whose promise settled forward, round after
 * round until nothing moves. Final callbacks are queued and called only after the entry closed
 * (its CPU counted), which also lets a callback start another fetch or free the worker. When no
 * call out of the worker awaits an answer, a promise still pending can never settle (there are
 * no timers or I/O of its own yet), and the invocations waiting on one fail instead of hanging.
 */
#include <algorithm>
#include <new>

#include "isolates/iso_int.h"
#include "isolates/shim_int.h"

namespace iso {

namespace {

thread_local Entry *t_top = nullptr;

uint64_t left(uint64_t budget, uint64_t used)
{
    if (budget == 0)
        return 0;
    return used >= budget ? 1 : budget - used;
}

} // namespace

Entry::Entry(iso_worker *w, Invocation *inv) : w_(w), inv_(inv), outer_(t_top)
{
    if (outer_)
        outer_->disarm();
    t_top = this;
    if (w->depth++ == 0) {
        clock_tick(); /* a new event: the frozen clock moves on */
        pthread_mutex_lock(&w->run_lock);
        w->running = true;
        pthread_mutex_unlock(&w->run_lock);
    }
    outermost_ = w->depth == 1;
    arm();
}

Entry::~Entry()
{
    disarm();
    if (--w_->depth == 0) {
        pthread_mutex_lock(&w_->run_lock);
        w_->running = false;
        pthread_mutex_unlock(&w_->run_lock);
    }
    t_top = outer_;
    if (outer_)
        outer_->arm();
}

void Entry::act_for(Invocation *inv)
{
    if (inv == inv_)
        return;
    disarm();
    inv_ = inv;
    arm();
}

void Entry::arm()
{
    uint64_t cpu = w_->cpu_budget, wall = w_->wall_budget;
    bool want_cpu = false;
    /* A response whose head left streams at the client's pace: no wall budget. */
    uint64_t budget = inv_ && !inv_->head_sent ? inv_->wall_budget : 0;
    uint64_t waited = budget ? ed_now_ns() - inv_->started : 0;
    /* An invocation whose wall time ran out while it waited is failed alone by settle(); until
     * then the worker's own budgets apply, so that w is not terminated on its account. */
    if (inv_ && (!budget || waited < budget)) {
        cpu = left(inv_->cpu_budget, inv_->cpu_used);
        wall = budget ? budget - waited : 0;
        want_cpu = inv_->cpu_used_out != nullptr;
    }
    if (w_->watch) {
        iso_watch_arm(w_->watch, w_, cpu, wall);
        armed_ = kWatch;
    } else if (want_cpu) {
        cpu_start_ = ed_thread_cpu_ns();
        armed_ = kClock;
    }
}

void Entry::disarm()
{
    uint64_t spent;
    if (armed_ == kWatch)
        spent = iso_watch_disarm(w_->watch);
    else if (armed_ == kClock)
        spent = ed_thread_cpu_ns() - cpu_start_;
    else
        return;
    armed_ = kNone;
    if (inv_) {
        inv_->cpu_used += spent;
        if (inv_->cpu_used_out)
            *inv_->cpu_used_out += spent;
    }
}

Hold::Hold(iso_worker *w) : w_(w)
{
    w->holds++;
}

Hold::~Hold()
{
    if (--w_->holds == 0 && w_->free_requested)
        destroy(w_);
}

Invocation *current_invocation(iso_worker *w)
{
    for (Entry *e = t_top; e; e = e->outer())
        if (e->worker() == w)
            return e->invocation();
    return nullptr;
}

Invocation *find_invocation(iso_worker *w, uint64_t id)
{
    if (id == 0)
        return nullptr;
    for (Invocation *inv : w->inflight)
        if (inv->id == id)
            return inv;
    return nullptr;
}

void track(iso_worker *w, Invocation *inv)
{
    inv->id = w->next_invocation++;
    if (inv->wall_budget)
        inv->started = ed_now_ns();
    w->inflight.push_back(inv);
    try {
        w->live.emplace(inv->id, inv);
    } catch (...) {
        w->inflight.pop_back();
        throw;
    }
    w->pending++;
}

void complete(iso_worker *w, Invocation *inv, Invocation::Final final, int code, std::string msg,
              std::string result)
{
    if (inv->state == Invocation::State::kDone)
        return;
    auto it = std::find(w->inflight.begin(), w->inflight.end(), inv);
    if (it != w->inflight.end())
        w->inflight.erase(it);
    inv->state = Invocation::State::kDone;
    inv->final = final;
    inv->code = code;
    inv->msg = std::move(msg);
    inv->result = std::move(result);
    inv->awaited.Reset();
    inv->reader.Reset();
    if (inv->paused) {
        inv->paused = false;
        w->host_waits--;
    }
    if (inv->body_id)
        release_body(w, inv->body_id);
    w->completions.push_back(inv);
}

std::string limit_message(int code)
{
    switch (code) {
    case ED_ECPULIMIT:
        return "Worker exceeded CPU time limit";
    case ED_EHEAPLIMIT:
        return "Worker exceeded memory limit";
    case ED_EWALLLIMIT:
        return "Worker exceeded wall time limit";
    case ED_ETERMINATED:
        return "Worker was terminated";
    case ED_ECANCELED:
        return "Worker was shut down before it answered";
    default:
        return std::string("Worker failed: ") + ed_strerror(code);
    }
}

void background_end(iso_worker *w, Invocation *inv, int code, const std::string &msg)
{
    auto it = std::find(w->background.begin(), w->background.end(), inv);
    if (it == w->background.end())
        return;
    w->background.erase(it);
    inv->wait_until.clear();
    inv->bg_code = code;
    inv->bg_msg = msg;
    w->completions.push_back(inv);
}

void fail_all(iso_worker *w, int code)
{
    timers_clear(w); /* a retired worker loses its timers */
    std::vector<Invocation *> bg = w->background;
    for (Invocation *inv : bg)
        background_end(w, inv, code, limit_message(code));
    for (Invocation *inv : w->completions) {
        if (!inv->wait_until.empty()) {
            inv->wait_until.clear();
            inv->bg_code = code;
            inv->bg_msg = limit_message(code);
        }
    }
    std::vector<Invocation *> all;
    all.swap(w->inflight);
    for (Invocation *inv : all) {
        inv->state = Invocation::State::kAwaitResult; /* not done: complete() takes it */
        if (inv->kind == Invocation::Kind::kCall)
            complete(w, inv, Invocation::Final::kResult, code, limit_message(code));
        else
            complete(w, inv, inv->head_sent ? Invocation::Final::kAbort : Invocation::Final::kFail,
                     code, ed_strerror(code));
    }
}

namespace {

int stop_code(iso_worker *w)
{
    int reason = w->stop_reason.load();
    return reason ? reason : ED_ETERMINATED;
}

bool is_stopped(iso_worker *w)
{
    return w->stop_reason.load() || w->isolate->IsExecutionTerminating();
}

/* Whether the promise inv waits on has settled. */
bool ready(iso_worker *w, Invocation *inv)
{
    if (inv->awaited.IsEmpty())
        return false;
    v8::HandleScope scope(w->isolate);
    v8::Local<v8::Value> v = inv->awaited.Get(w->isolate);
    return !v->IsPromise() || v.As<v8::Promise>()->State() != v8::Promise::kPending;
}

bool wall_spent(Invocation *inv)
{
    return inv->wall_budget && !inv->head_sent && ed_now_ns() - inv->started >= inv->wall_budget;
}

/* Runs microtasks and steps what settled, until a round moves nothing. False when w was
 * stopped meanwhile. */
bool settle(iso_worker *w, Entry &e, v8::Local<v8::Context> context, v8::TryCatch &try_catch)
{
    for (;;) {
        w->isolate->PerformMicrotaskCheckpoint();
        if (is_stopped(w))
            return false;
        bool progressed = false;
        for (size_t i = 0; i < w->inflight.size();) {
            Invocation *inv = w->inflight[i];
            if (!ready(w, inv)) {
                i++;
                continue;
            }
            progressed = true;
            if (wall_spent(inv)) {
                /* Its budget ran out while it waited: it fails alone, w goes on. */
                complete(w, inv,
                         inv->kind == Invocation::Kind::kCall ? Invocation::Final::kResult
                         : inv->head_sent                     ? Invocation::Final::kAbort
                                                              : Invocation::Final::kFail,
                         ED_EWALLLIMIT, limit_message(ED_EWALLLIMIT));
            } else {
                e.act_for(inv);
                v8::HandleScope scope(w->isolate);
                if (inv->kind == Invocation::Kind::kFetch)
                    fetch_step(w, inv, context, try_catch);
                else
                    call_step(w, inv, context, try_catch);
                if (is_stopped(w))
                    return false;
            }
            /* inv either left the table (done) or waits on a new promise that needs another
             * checkpoint: the scan goes on from the same place. */
            if (i < w->inflight.size() && w->inflight[i] == inv)
                i++;
        }
        if (!progressed)
            return true;
    }
}

/* Forgets ctx.waitUntil() promises that settled; ends background work that has none left. */
void prune_background(iso_worker *w)
{
    v8::HandleScope scope(w->isolate);
    auto prune = [w](Invocation *inv) {
        auto &v = inv->wait_until;
        v.erase(std::remove_if(v.begin(), v.end(),
                               [w](const v8::Global<v8::Promise> &p) {
                                   return p.Get(w->isolate)->State() != v8::Promise::kPending;
                               }),
                v.end());
    };
    for (Invocation *inv : w->completions)
        prune(inv);
    std::vector<Invocation *> bg = w->background;
    for (Invocation *inv : bg) {
        prune(inv);
        if (inv->wait_until.empty())
            background_end(w, inv, 0, std::string());
    }
}

/* Nothing can settle a pending promise any more: background work waiting on one ends. */
void background_dead(iso_worker *w)
{
    static const char msg[] = "a ctx.waitUntil() promise never settled: nothing is left that "
                              "could settle it";
    for (Invocation *inv : w->completions) {
        if (!inv->wait_until.empty()) {
            inv->wait_until.clear();
            inv->bg_code = ED_EJS;
            inv->bg_msg = msg;
        }
    }
    std::vector<Invocation *> bg = w->background;
    for (Invocation *inv : bg)
        background_end(w, inv, ED_EJS, msg);
}

} // namespace

void finish(iso_worker *w, Entry &e, v8::Local<v8::Context> context, v8::TryCatch &try_catch)
{
    if (!w->free_requested && settle(w, e, context, try_catch)) {
        e.act_for(nullptr);
        pump(w);
        if (!w->inflight.empty() && !is_stopped(w))
            settle(w, e, context, try_catch);
    }
    if (!is_stopped(w))
        prune_background(w);
    /* nothing can wake w: no answer, no timer, no body or paused stream the host will resume */
    bool idle = w->calls_out == 0 && w->host_waits == 0 && !timers_pending(w);
    if (!is_stopped(w) && idle)
        background_dead(w);
    if (!is_stopped(w) && idle && !w->inflight.empty()) {
        std::vector<Invocation *> dead = w->inflight;
        for (Invocation *inv : dead) {
            e.act_for(inv);
            if (inv->kind == Invocation::Kind::kCall)
                complete(w, inv, Invocation::Final::kResult, ED_EJS,
                         "the call's promise never settled: the worker will never produce a "
                         "result");
            else if (inv->state == Invocation::State::kStreaming)
                fetch_stalled(w, inv, context, try_catch);
            else
                complete(w, inv, Invocation::Final::kFail, ED_EJS,
                         "the fetch handler's promise never settled: the script will never "
                         "generate a response");
        }
    }
    if (!is_stopped(w))
        check_heap(w);
    if (is_stopped(w)) {
        fail_all(w, stop_code(w));
        return;
    }
    /* What still waits is ended by its wall budget even if nothing else ever enters w. */
    try {
        for (Invocation *inv : w->inflight)
            if (inv->wall_budget && !inv->deadline)
                timers_deadline(w, inv);
    } catch (...) {
        /* out of memory: the host's own wall-time backstop (edge/) still applies */
    }
}

namespace {

/* inv is over: its timers go, and it is no longer pending or found by id. */
void end_invocation(iso_worker *w, Invocation *inv)
{
    timers_cancel_for(w, inv);
    w->live.erase(inv->id);
    w->pending--;
}

} // namespace

void run_completions(iso_worker *w)
{
    /* A callback may complete more (a fetch it starts, an answer it gives): this loop, not a
     * nested one, delivers them, in order. */
    if (w->completing)
        return;
    w->completing = true;
    for (size_t i = 0; i < w->completions.size(); i++) {
        Invocation *inv = w->completions[i];
        bool on_done = inv->kind == Invocation::Kind::kFetch && inv->sink->on_done;
        if (inv->responded) {
            /* its background work is over */
            end_invocation(w, inv);
            if (on_done)
                inv->sink->on_done(inv->ud, inv->bg_code, inv->bg_msg.c_str());
            recycle(w, inv);
            continue;
        }
        inv->responded = true;
        bool background = !inv->wait_until.empty() && !w->free_requested && !w->stop_reason.load();
        if (background) {
            /* Answered, with ctx.waitUntil() work left: the CPU it uses counts against its
             * budgets, and reaches *cpu_used_ns only for a sink that waits for on_done. */
            inv->state = Invocation::State::kBackground;
            if (!on_done)
                inv->cpu_used_out = nullptr;
            try {
                w->background.push_back(inv);
                timers_deadline(w, inv);
            } catch (...) {
                background = false; /* out of memory: it ends now */
                auto it = std::find(w->background.begin(), w->background.end(), inv);
                if (it != w->background.end())
                    w->background.erase(it);
            }
        }
        if (!background)
            end_invocation(w, inv);
        if (inv->kind == Invocation::Kind::kCall) {
            if (inv->code)
                inv->cb(inv->cb_ud, inv->code, nullptr, 0, inv->msg.c_str());
            else
                inv->cb(inv->cb_ud, 0, reinterpret_cast<const uint8_t *>(inv->result.data()),
                        inv->result.size(), nullptr);
        } else if (inv->final == Invocation::Final::kEnd) {
            inv->sink->on_end(inv->ud);
        } else if (inv->final == Invocation::Final::kAbort) {
            inv->sink->on_abort(inv->ud, inv->code, inv->msg.c_str());
        } else {
            inv->sink->on_fail(inv->ud, inv->code, inv->msg.c_str());
        }
        if (background)
            continue;
        if (on_done)
            inv->sink->on_done(inv->ud, inv->bg_code, inv->bg_msg.c_str());
        recycle(w, inv);
    }
    w->completions.clear();
    w->completing = false;
}

Invocation *new_invocation(iso_worker *w, Invocation::Kind kind)
{
    if (!w->spare.empty()) {
        Invocation *inv = w->spare.back();
        w->spare.pop_back();
        inv->kind = kind;
        return inv;
    }
    return new (std::nothrow) Invocation(kind);
}

void recycle(iso_worker *w, Invocation *inv)
{
    if (w->spare.size() >= kSpareInvocations || w->free_requested) {
        delete inv;
        return;
    }
    Invocation::Kind kind = inv->kind;
    inv->~Invocation();
    new (inv) Invocation(kind);
    w->spare.push_back(inv); /* capacity reserved: never throws */
}

} // namespace iso

extern "C" size_t iso_worker_pending(const struct iso_worker *w) noexcept
{
    return w ? w->pending : 0;
}
