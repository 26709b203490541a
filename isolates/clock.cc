/*
 * The frozen clock. As in Cloudflare Workers, Date.now(), new Date() and performance.now() do
 * not advance while JavaScript runs: they move only when the shim enters an isolate for a new
 * event (a request, a timer firing, a call's answer), so a worker cannot time its own code,
 * or a cache probe, to the nanosecond (the Spectre-style timers that SharedArrayBuffer would
 * also give, and that we leave out). V8 10.2 reads the wall clock behind Date from the
 * platform's CurrentClockTimeMillis(), so the platform V8 is given wraps libplatform's default
 * one and answers that call from a per-thread clock the shim moves on every outermost entry
 * into an isolate; every other call goes to the default platform. The clock is whole
 * milliseconds and never moves backwards on a thread.
 */
#include <ctime>

#include "isolates/shim_int.h"

namespace iso {

namespace {

thread_local double t_frozen_ms = 0;

double wall_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

class ClockPlatform final : public v8::Platform {
  public:
    explicit ClockPlatform(v8::Platform *base) : base_(base)
    {
    }
    v8::PageAllocator *GetPageAllocator() override
    {
        return base_->GetPageAllocator();
    }
    void OnCriticalMemoryPressure() override
    {
        base_->OnCriticalMemoryPressure();
    }
    bool OnCriticalMemoryPressure(size_t length) override
    {
        return base_->OnCriticalMemoryPressure(length);
    }
    int NumberOfWorkerThreads() override
    {
        return base_->NumberOfWorkerThreads();
    }
    std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate *isolate) override
    {
        return base_->GetForegroundTaskRunner(isolate);
    }
    void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override
    {
        base_->CallOnWorkerThread(std::move(task));
    }
    void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override
    {
        base_->CallBlockingTaskOnWorkerThread(std::move(task));
    }
    void CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override
    {
        base_->CallLowPriorityTaskOnWorkerThread(std::move(task));
    }
    void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay) override
    {
        base_->CallDelayedOnWorkerThread(std::move(task), delay);
    }
    bool IdleTasksEnabled(v8::Isolate *isolate) override
    {
        return base_->IdleTasksEnabled(isolate);
    }
    std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                           std::unique_ptr<v8::JobTask> job) override
    {
        return base_->PostJob(priority, std::move(job));
    }
    double MonotonicallyIncreasingTime() override
    {
        return base_->MonotonicallyIncreasingTime();
    }
    double CurrentClockTimeMillis() override
    {
        return clock_ms();
    }
    StackTracePrinter GetStackTracePrinter() override
    {
        return base_->GetStackTracePrinter();
    }
    v8::TracingController *GetTracingController() override
    {
        return base_->GetTracingController();
    }
    void DumpWithoutCrashing() override
    {
        base_->DumpWithoutCrashing();
    }

  private:
    v8::Platform *base_;
};

} // namespace

std::unique_ptr<v8::Platform> clock_platform(v8::Platform *base)
{
    return std::unique_ptr<v8::Platform>(new ClockPlatform(base));
}

void clock_tick()
{
    double now = wall_ms();
    if (now > t_frozen_ms)
        t_frozen_ms = now;
}

double clock_ms()
{
    /* A thread that never entered an isolate (V8's own threads) reads the real clock. */
    return t_frozen_ms > 0 ? t_frozen_ms : wall_ms();
}

} // namespace iso
