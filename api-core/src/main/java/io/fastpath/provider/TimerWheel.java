package io.fastpath.provider;

import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.agrona.DeadlineTimerWheel;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * The time-outs of a provider's objects (IRP time-outs, connect and handshake limits, offers waiting for a
 * decision) on one Agrona {@link DeadlineTimerWheel}: an object holds at most the timer id {@link #schedule}
 * gave it, cancels it with {@link #cancel}, and is handed to the expiry action when {@link #poll} finds its
 * deadline passed. A timer never fires early; it fires in the first poll at or after its deadline. Scheduling
 * and cancelling cost O(1), a poll costs the timers of the ticks it passes, not every object with a timer.
 * Dispatch thread only; time is the caller's {@code System.nanoTime()} reading.
 *
 * @param <T> the objects that time out
 */
public final class TimerWheel<T> {
    /** The id of no timer (what an object without a timer holds). */
    public static final long NONE = DeadlineTimerWheel.NULL_DEADLINE;
    /** About a millisecond (2^20 ns) per tick, 1,024 ticks a turn. */
    private static final long TICK_NS = 1L << 20;
    private static final int TICKS_PER_WHEEL = 1024;

    private final DeadlineTimerWheel wheel;
    private final Long2ObjectHashMap<T> owners = new Long2ObjectHashMap<>();
    private final Consumer<T> onExpiry;
    private final DeadlineTimerWheel.TimerHandler handler = this::expired;
    /** Inside {@link #poll} (an expiry action may schedule: {@link #catchUp} leaves the poll's time alone). */
    private boolean polling;

    /** @param onExpiry what to do with an object whose timer expired (its id is no longer valid then) */
    public TimerWheel(long nowNs, Consumer<T> onExpiry) {
        this.wheel = new DeadlineTimerWheel(TimeUnit.NANOSECONDS, nowNs, TICK_NS, TICKS_PER_WHEEL);
        this.onExpiry = onExpiry;
    }

    /** Schedules a timer for {@code owner} at {@code deadlineNs}; returns its id. */
    public long schedule(T owner, long deadlineNs) {
        long id = wheel.scheduleTimer(deadlineNs);
        owners.put(id, owner);
        return id;
    }

    /** Cancels timer {@code id} ({@link #NONE}: nothing); returns {@link #NONE} for the caller to keep. */
    public long cancel(long id) {
        if (id != NONE && wheel.cancelTimer(id)) {
            owners.remove(id);
        }
        return NONE;
    }

    /**
     * Moves an empty wheel's time on to {@code nowNs} in one step, as a {@link #poll} of the empty wheel does. A
     * provider that polls only while timers wait (no clock read in a round without timers) calls it before it
     * schedules: else the next poll would walk the ticks of the whole idle time one by one. Does nothing while
     * timers wait (polls keep the time then) or from an expiry action (the poll in progress keeps it).
     */
    public void catchUp(long nowNs) {
        if (!polling && wheel.timerCount() == 0) {
            wheel.currentTickTime(nowNs);
        }
    }

    /** Runs the expiry action for every timer due at {@code nowNs}; returns how many. */
    public int poll(long nowNs) {
        polling = true;
        try {
            return pollTicks(nowNs);
        } finally {
            polling = false;
        }
    }

    private int pollTicks(long nowNs) {
        int expired = 0;
        // A poll looks at the current tick, then moves on one tick if that one is over: catch up with the clock
        // tick by tick while timers wait (each tick must be looked at), in one jump when none does.
        while (wheel.timerCount() > 0) {
            long tickEnd = wheel.currentTickTime();
            expired += wheel.poll(nowNs, handler, Integer.MAX_VALUE);
            if (wheel.currentTickTime() == tickEnd) {
                return expired; // the tick in progress was looked at
            }
        }
        wheel.currentTickTime(nowNs);
        return expired;
    }

    /** The end of the wheel's current tick (tests: how far its time has moved). */
    long tickTime() {
        return wheel.currentTickTime();
    }

    /** Timers scheduled and not yet expired or cancelled. */
    public int size() {
        return owners.size();
    }

    private boolean expired(TimeUnit unit, long now, long id) {
        T owner = owners.remove(id);
        if (owner != null) {
            onExpiry.accept(owner);
        }
        return true;
    }
}
