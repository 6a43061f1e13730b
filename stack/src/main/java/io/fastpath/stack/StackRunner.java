package io.fastpath.stack;

import io.fastpath.dpdk.Eal;
import java.util.function.IntSupplier;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NoOpIdleStrategy;

/**
 * Runs a {@link Stack} on a dedicated poll thread (Agrona {@link AgentRunner}). The thread registers with
 * EAL before its first duty cycle, so it has an lcore id and mempool cache.
 *
 * <p>Idle strategies: {@link #busySpin()} for latency (one core spins at 100%), {@link #backoff()} for a laptop.
 */
public final class StackRunner implements AutoCloseable {
    private final AgentRunner runner;
    private final Thread thread;

    private StackRunner(Stack stack, IdleStrategy idle, ErrorHandler errors, Agent[] alongside) {
        Agent registered = new Agent() {
            @Override
            public void onStart() {
                Eal.shared().registerThread();
                stack.bindPollThread(); // providers run alongside make their requests by direct calls
                stack.onStart();
                for (Agent a : alongside) {
                    a.onStart();
                }
            }

            @Override
            public int doWork() throws Exception {
                int work = stack.doWork();
                int beside = 0;
                for (Agent a : alongside) {
                    beside += a.doWork();
                }
                if (beside > 0) {
                    stack.workedBetweenCycles(); // their time: the next duty cycle reads the clock
                }
                return work + beside;
            }

            @Override
            public void onClose() {
                for (Agent a : alongside) {
                    a.onClose();
                }
                stack.onClose();
                Eal.shared().unregisterThread();
            }

            @Override
            public String roleName() {
                return stack.roleName();
            }
        };
        if (idle instanceof BusySpinIdleStrategy || idle instanceof NoOpIdleStrategy) {
            stack.skipIdleClockReads(true); // duty cycles back to back: idle ones may share a clock reading
        }
        this.runner = new AgentRunner(idle, errors, null, registered);
        this.thread = AgentRunner.startOnThread(runner);
    }

    /** Starts the stack's poll thread. */
    public static StackRunner start(Stack stack, IdleStrategy idle) {
        return new StackRunner(stack, idle, Throwable::printStackTrace, new Agent[0]);
    }

    /**
     * Starts the stack's poll thread with other agents run in the same duty cycle, after the stack's work
     * (an API provider dispatching on the poll thread, e.g. {@code WskProvider.pollThreadAgent()}).
     */
    public static StackRunner start(Stack stack, IdleStrategy idle, Agent... alongside) {
        return new StackRunner(stack, idle, Throwable::printStackTrace, alongside.clone());
    }

    /**
     * Starts the stack's poll thread with other duty cycles run in the same loop, after the stack's work: each
     * {@code getAsInt()} does one round and returns the work done (an API provider dispatching on the poll
     * thread: {@code WskProvider.pollThreadAgent()}).
     */
    public static StackRunner start(Stack stack, IdleStrategy idle, IntSupplier... alongside) {
        Agent[] agents = new Agent[alongside.length];
        for (int i = 0; i < agents.length; i++) {
            IntSupplier work = alongside[i];
            agents[i] = new Agent() {
                @Override
                public int doWork() {
                    return work.getAsInt();
                }

                @Override
                public String roleName() {
                    return work.toString();
                }
            };
        }
        return new StackRunner(stack, idle, Throwable::printStackTrace, agents);
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
