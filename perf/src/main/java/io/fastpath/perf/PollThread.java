package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * A busy-spin poll thread for the TCP harness: what {@code StackRunner.start(stack, StackRunner.busySpin())}
 * does (register with EAL, {@code onStart}, {@code doWork} in a loop with {@link BusySpinIdleStrategy},
 * {@code onClose}, unregister), plus what a harness needs from outside the loop:
 *
 * <ul>
 *   <li>{@link #run}/{@link #call}: run a task on the poll thread between two duty cycles and wait for it,
 *       because every TCP call (listen, connect, shutdown) must be made on the thread that calls
 *       {@code doWork()};
 *   <li>{@link #allocatedBytes()}: the thread's own allocated-bytes counter
 *       ({@code getCurrentThreadAllocatedBytes}, TLAB included), read on the poll thread between duty cycles;
 *       reading it allocates nothing, so a window between two reads holds only what the duty cycles allocated;
 *   <li>pinning to one CPU ({@link Affinity}) before anything else runs on the thread.
 * </ul>
 *
 * <p>The loop reads two volatile fields per iteration (a task, a sample request): plain loads on x86.
 * Thread: start, run, call, allocatedBytes and close from one controlling thread.
 */
final class PollThread implements AutoCloseable {
    /** One duty cycle; returns the work done (0 = idle). */
    interface Work {
        int doWork();
    }

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final long TASK_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);

    private final String name;
    private final int cpu;
    private final boolean registerWithEal;
    private final Work work;
    private final Runnable onStart;
    private final Runnable onClose;
    private final Thread thread;

    private volatile boolean running = true;
    private volatile boolean started;
    private volatile boolean finished;
    private volatile Runnable task;
    private volatile Throwable failure;
    private volatile int sampleRequest;
    private volatile int sampleDone;
    private volatile long allocated;
    private volatile String pinning = "?";

    /**
     * @param cpu the CPU to pin the thread to, or -1 to leave it where the scheduler puts it
     * @param registerWithEal whether the thread uses DPDK (mempool caches need an lcore id)
     */
    PollThread(String name, int cpu, boolean registerWithEal, Work work, Runnable onStart, Runnable onClose) {
        this.name = name;
        this.cpu = cpu;
        this.registerWithEal = registerWithEal;
        this.work = work;
        this.onStart = onStart;
        this.onClose = onClose;
        this.thread = new Thread(this::loop, name);
        this.thread.setDaemon(true);
    }

    /** Starts the thread and waits until its {@code onStart} has run. */
    PollThread start() {
        thread.start();
        long deadline = System.nanoTime() + TASK_TIMEOUT_NS;
        while (!started) {
            checkFailure();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " did not start");
            }
            LockSupport.parkNanos(100_000);
        }
        return this;
    }

    private void loop() {
        boolean registered = false;
        try {
            pinning = Affinity.pin(cpu);
            if (registerWithEal) {
                Eal.shared().registerThread();
                registered = true;
            }
            if (onStart != null) {
                onStart.run();
            }
            allocated = THREADS.getCurrentThreadAllocatedBytes(); // links the call off the clock
            started = true;
            final IdleStrategy idle = new BusySpinIdleStrategy();
            final Work w = work;
            while (running) {
                Runnable t = task;
                if (t != null) {
                    try {
                        t.run();
                    } catch (Throwable e) {
                        failure = e;
                    }
                    task = null;
                }
                int request = sampleRequest;
                if (request != sampleDone) {
                    allocated = THREADS.getCurrentThreadAllocatedBytes();
                    sampleDone = request;
                }
                idle.idle(w.doWork());
            }
        } catch (Throwable e) {
            failure = e;
        } finally {
            try {
                if (onClose != null && started) {
                    onClose.run();
                }
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
            }
            if (registered) {
                Eal.shared().unregisterThread();
            }
            finished = true;
        }
    }

    /** Runs {@code action} on the poll thread between two duty cycles and waits for it. */
    void run(Runnable action) {
        call(() -> {
            action.run();
            return null;
        });
    }

    /** Computes a value on the poll thread between two duty cycles and waits for it (allocates: off the clock). */
    <T> T call(Supplier<T> action) {
        Object[] result = new Object[1];
        checkFailure();
        task = () -> result[0] = action.get();
        long deadline = System.nanoTime() + TASK_TIMEOUT_NS;
        while (task != null) {
            checkFailure();
            if (finished || System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": task not run (thread "
                    + (finished ? "ended" : "stuck") + ")");
            }
            LockSupport.parkNanos(50_000);
        }
        checkFailure();
        @SuppressWarnings("unchecked")
        T value = (T) result[0];
        return value;
    }

    /** The bytes the poll thread has allocated so far, read on the poll thread itself between duty cycles. */
    long allocatedBytes() {
        if (finished) {
            return THREADS.getThreadAllocatedBytes(thread.threadId());
        }
        int request = sampleRequest + 1;
        sampleRequest = request;
        long deadline = System.nanoTime() + TASK_TIMEOUT_NS;
        while (sampleDone != request) {
            checkFailure();
            if (finished || System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": allocation sample not taken");
            }
            LockSupport.parkNanos(20_000);
        }
        return allocated;
    }

    /** Throws what the poll thread failed with, if it did. */
    void checkFailure() {
        Throwable t = failure;
        if (t != null) {
            throw new IllegalStateException(name + " failed: " + t, t);
        }
    }

    String name() {
        return name;
    }

    Thread thread() {
        return thread;
    }

    /** Where the thread runs: "cpu N" or why it is not pinned. */
    String pinning() {
        return pinning;
    }

    /** Stops the loop, runs {@code onClose} on the poll thread, and waits for the thread to end. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            throw new IllegalStateException(name + " did not stop");
        }
        checkFailure();
    }
}
