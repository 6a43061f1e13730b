package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.AbstractByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Listens to Netty's ByteBuf leak detector (the one every tracked buffer, ours included, reports to). Leaks are
 * reported when a tracked buffer is collected unreleased and the detector next tracks a buffer: {@link #collect}
 * runs the GC and tracks a few to flush reports out.
 */
final class LeakWatch {
    final List<String> leaks = new CopyOnWriteArrayList<>();

    private LeakWatch() {
    }

    @SuppressWarnings("unchecked")
    static LeakWatch install() throws ReflectiveOperationException {
        Field f = AbstractByteBuf.class.getDeclaredField("leakDetector");
        f.setAccessible(true);
        ResourceLeakDetector<ByteBuf> detector = (ResourceLeakDetector<ByteBuf>) f.get(null);
        LeakWatch watch = new LeakWatch();
        detector.setLeakListener((resourceType, records) -> watch.leaks.add(resourceType + ": " + records));
        return watch;
    }

    /** Runs the GC and tracks buffers until reports of collected leaks are out. */
    void collect() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            for (int k = 0; k < 100; k++) {
                PooledByteBufAllocator.DEFAULT.directBuffer(16).release();
            }
        }
    }

    void assertNone() throws InterruptedException {
        collect();
        assertEquals(List.of(), leaks, "Netty's leak detector");
    }
}
