package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ReceiveQueue}'s in-order ring (its slots taken round without a division) against a deque: random appends,
 * partial and whole consumptions, take-overs and clears, round and round rings whose capacity is no power of two.
 */
class ReceiveQueueRingTest {
    private record View(long mbuf, long address, int length) {
    }

    @Test
    void theRingHoldsWhatADequeHolds() {
        Random random = new Random(1313);
        for (int capacity : new int[] {1, 2, 3, 7, 10, 64, 100}) {
            ReceiveQueue q = new ReceiveQueue(capacity, 4);
            ArrayDeque<View> model = new ArrayDeque<>();
            List<Long> released = new ArrayList<>();
            List<Long> expectedReleased = new ArrayList<>();
            long next = 1;
            int bytes = 0;
            for (int step = 0; step < 50_000; step++) {
                int op = random.nextInt(10);
                if (op < 5) {
                    int length = 1 + random.nextInt(1_500);
                    View v = new View(next++, random.nextLong(), length);
                    boolean added = q.append(v.mbuf, v.address, v.length);
                    assertEquals(model.size() < capacity, added, "append at " + step);
                    if (added) {
                        model.add(v);
                        bytes += length;
                    }
                } else if (op < 8 && !model.isEmpty()) {
                    View head = model.peek();
                    int n = random.nextBoolean() ? head.length : 1 + random.nextInt(head.length);
                    q.consumeHead(n, released::add);
                    bytes -= n;
                    model.poll();
                    if (n >= head.length) {
                        expectedReleased.add(head.mbuf);
                    } else {
                        model.addFirst(new View(head.mbuf, head.address + n, head.length - n));
                    }
                } else if (op < 9 && !model.isEmpty()) {
                    View head = model.poll();
                    q.takeHead();
                    bytes -= head.length;
                } else if (random.nextInt(50) == 0) {
                    q.clear(released::add);
                    for (View v : model) {
                        expectedReleased.add(v.mbuf);
                    }
                    model.clear();
                    bytes = 0;
                }
                assertEquals(model.size(), q.count(), "count at " + step);
                assertEquals(bytes, q.bytes(), "bytes at " + step);
                assertEquals(expectedReleased, released, "released at " + step);
                if (!model.isEmpty()) {
                    View head = model.peek();
                    assertEquals(head.mbuf, q.headMbuf(), "head at " + step);
                    assertEquals(head.address, q.headAddress(), "head address at " + step);
                    assertEquals(head.length, q.headLength(), "head length at " + step);
                }
            }
        }
    }
}
