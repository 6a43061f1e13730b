package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TimerWheelTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private final List<String> fired = new ArrayList<>();
    private final long t0 = 1_000_000_000L;
    private final TimerWheel<String> wheel = new TimerWheel<>(t0, fired::add);

    @Test
    void aTimerFiresAtItsDeadlineNeverBefore() {
        wheel.schedule("a", t0 + 5 * MS);
        assertEquals(0, wheel.poll(t0 + 5 * MS - 1));
        assertTrue(fired.isEmpty());
        assertEquals(1, wheel.poll(t0 + 5 * MS));
        assertEquals(List.of("a"), fired);
        assertEquals(0, wheel.size());
    }

    @Test
    void aCancelledTimerDoesNotFireAndRearmingReplacesTheOldOne() {
        long a = wheel.schedule("a", t0 + MS);
        assertEquals(TimerWheel.NONE, wheel.cancel(a));
        long b = wheel.schedule("b", t0 + 2 * MS);
        wheel.cancel(b);
        wheel.schedule("b", t0 + 30 * MS); // re-armed later
        wheel.poll(t0 + 10 * MS);
        assertTrue(fired.isEmpty());
        wheel.poll(t0 + 30 * MS);
        assertEquals(List.of("b"), fired);
        assertEquals(TimerWheel.NONE, wheel.cancel(TimerWheel.NONE));
    }

    @Test
    void onePollAfterALongPauseFiresEveryTimerDue() {
        wheel.schedule("1ms", t0 + MS);
        wheel.schedule("700ms", t0 + 700 * MS);
        wheel.schedule("5s", t0 + 5_000 * MS); // beyond one turn of the wheel
        assertEquals(2, wheel.poll(t0 + 1_000 * MS), "1,000 ticks in one poll");
        assertEquals(List.of("1ms", "700ms"), fired);
        assertEquals(0, wheel.poll(t0 + 4_999 * MS));
        assertEquals(1, wheel.poll(t0 + 5_000 * MS));
    }

    @Test
    void catchUpMovesAnIdleWheelOnInOneStep_soAProviderThatPollsOnlyWhileTimersWaitStaysExact() {
        // A provider reads no clock in rounds without timers (TdiProvider, NdkAdapter): an hour passes unpolled,
        // then it catches the wheel up before it schedules. The timer fires at its deadline, not before, and the
        // poll looks at a tick or two, not 3.6 million.
        long hour = t0 + 3_600_000 * MS;
        wheel.catchUp(hour);
        assertTrue(wheel.tickTime() > hour - 2 * MS, "the wheel's time is the clock's, not an hour behind");
        wheel.schedule("a", hour + 5 * MS);
        assertEquals(0, wheel.poll(hour + 5 * MS - 1));
        assertEquals(1, wheel.poll(hour + 5 * MS));
        assertEquals(List.of("a"), fired);
        // With a timer waiting, catchUp leaves the time to the polls (it must not skip the ticks of a waiting timer).
        wheel.schedule("b", hour + 10 * MS);
        wheel.catchUp(hour + 60_000 * MS);
        assertEquals(1, wheel.poll(hour + 10 * MS));
        assertEquals(List.of("a", "b"), fired);
    }

    @Test
    void anIdleWheelJumpsToTheClockAndADeadlineInThePastFiresAtTheNextPoll() {
        wheel.poll(t0 + 3_600_000 * MS); // an hour with no timers: one jump
        wheel.schedule("late", t0);
        assertEquals(1, wheel.poll(t0 + 3_600_000 * MS + 1));
        assertEquals(List.of("late"), fired);
    }

    @Test
    void anExpiryActionMayScheduleAgain() {
        java.util.concurrent.atomic.AtomicReference<TimerWheel<String>> self = new java.util.concurrent.atomic.AtomicReference<>();
        List<Long> at = new ArrayList<>();
        self.set(new TimerWheel<>(t0, s -> {
            at.add((long) at.size());
            if (at.size() < 3) {
                self.get().schedule(s, t0 + (at.size() + 1) * 10 * MS);
            }
        }));
        self.get().schedule("x", t0 + 10 * MS);
        for (long t = t0; t <= t0 + 100 * MS; t += MS) {
            self.get().poll(t);
        }
        assertEquals(3, at.size());
        assertEquals(0, self.get().size());
    }
}
