package io.fastpath.stack;

import io.fastpath.dpdk.Eal;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * Runs a {@link Stack} on a dedicated poll thread (Agrona {@link AgentRunner}). The thread registers with
 * EAL before its first duty cycle, so it has an lcore id and mempool cache.
 *
 * <p>Idle strategies: {@link #busySpin()} for latency (one core spins at 100%), {@link #backoff()} for a laptop.
 */
public final class StackRunner implements AutoCloseable {
    private final AgentRunner runner;
    private final Thread thread;

    private StackRunner(Stack stack, IdleStrategy idle, ErrorHandler errors) {
        Agent registered = new Agent() {
            @Override
            public void onStart() {
                Eal.shared().registerThread();
                stack.onStart();
            }

            @Override
            public int doWork() {
                return stack.doWork();
            }

            @Override
            public void onClose() {
                stack.onClose();
                Eal.shared().unregisterThread();
            }

            @Override
            public String roleName() {
                return stack.roleName();
            }
        };
        this.runner = new AgentRunner(idle, errors, null, registered);
        this.thread = AgentRunner.startOnThread(runner);
    }

    /** Starts the stack's poll thread. */
    public static StackRunner start(Stack stack, IdleStrategy idle) {
        return new StackRunner(stack, idle, Throwable::printStackTrace);
    }

    public static IdleStrategy busySpin() {
        return new BusySpinIdleStrategy();
    }

    /** Spins, yields, then parks up to 100 µs when idle. */
    public static IdleStrategy backoff() {
        return new BackoffIdleStrategy(100, 10, 1_000, 100_000);
    }

    public Thread thread() {
        return thread;
    }

    /** Stops the poll thread (it frees what the stack holds) and waits for it. */
    @Override
    public void close() {
        runner.close();
    }
}
