import java.lang.reflect.Field;
import io.fastpath.perf.WskRoundTripBenchmark;
import io.fastpath.stack.Stack;
import io.fastpath.wsk.WskProvider;

/**
 * The fixed cost of a dispatch round, against any benchmarks.jar (58f4667's too, which is the point): sets up
 * WskRoundTripBenchmark at 64 B outside JMH, then times in turn 200,000 round trips, 2,000,000 idle
 * {@code Stack.doWork()} calls of stack A, 2,000,000 idle {@code WskProvider.dispatch()} calls of A's provider, and
 * 2,000,000 idle rounds (both stacks and both providers, as the benchmark's {@code dispatch()}); 12 times.
 * docs/perf/apis.md. Usage (compile against the jar, run under the CPU 1 lock):
 * <pre>
 * javac -cp benchmarks.jar -d out perf/scripts/IdleRound.java
 * flock /tmp/cpu1.lock nice -n -15 taskset -c 1 $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
 *     --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -Dagrona.disable.bounds.checks=true \
 *     -cp out:benchmarks.jar IdleRound
 * </pre>
 */
public class IdleRound {
    static Object get(Object o, String name) throws Exception {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }
    public static void main(String[] args) throws Exception {
        WskRoundTripBenchmark bm = new WskRoundTripBenchmark();
        Field s = WskRoundTripBenchmark.class.getDeclaredField("size");
        s.setAccessible(true);
        s.setInt(bm, 64);
        bm.setUp();
        Stack a = (Stack) get(bm, "a");
        Stack b = (Stack) get(bm, "b");
        WskProvider wa = (WskProvider) get(bm, "wskA");
        WskProvider wb = (WskProvider) get(bm, "wskB");
        long sink = 0;
        for (int rep = 0; rep < 12; rep++) {
            int n = 2_000_000;
            long t0 = System.nanoTime();
            for (int i = 0; i < n / 10; i++) sink += bm.roundTrip();
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) sink += a.doWork();
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) sink += wa.dispatch();
            long t3 = System.nanoTime();
            for (int i = 0; i < n; i++) { sink += a.doWork() + b.doWork() + wa.dispatch() + wb.dispatch(); }
            long t4 = System.nanoTime();
            System.out.printf("rt %.0f ns  idle doWork %.1f ns  idle dispatch %.1f ns  idle round %.1f ns%n",
                (t1 - t0) / (double) (n / 10), (t2 - t1) / (double) n, (t3 - t2) / (double) n, (t4 - t3) / (double) n);
        }
        System.out.println(sink);
        bm.tearDown();
    }
}
