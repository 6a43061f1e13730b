import java.lang.reflect.Field;
import java.lang.reflect.Method;

/**
 * Dispatch rounds per round trip (docs/perf/apis.md): sets up {@code <Api>RoundTripBenchmark} at a size outside
 * JMH, runs 20,000 round trips and prints the benchmark's {@code rounds} counter per round trip (a round: both
 * stacks' duty cycles and, for the APIs, both providers' dispatch; the raw TCP benchmark has no providers).
 * <pre>
 * javac -cp benchmarks.jar -d out perf/scripts/RoundCount.java
 * taskset -c 0 $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
 *     --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -cp out:benchmarks.jar RoundCount Wsk 64
 * </pre>
 */
public class RoundCount {
    public static void main(String[] args) throws Exception {
        Class<?> c = Class.forName("io.fastpath.perf." + args[0] + "RoundTripBenchmark");
        Object bm = c.getDeclaredConstructor().newInstance();
        Field size = c.getDeclaredField("size");
        size.setAccessible(true);
        size.setInt(bm, Integer.parseInt(args.length > 1 ? args[1] : "64"));
        if (args[0].equals("Tdi")) {
            Field buffers = c.getDeclaredField("buffers");
            buffers.setAccessible(true);
            buffers.set(bm, "address"); // the JMH parameter's one value
        }
        c.getMethod("setUp").invoke(bm);
        Field rounds = c.getDeclaredField("rounds");
        rounds.setAccessible(true);
        Method rt = c.getMethod("roundTrip");
        int n = 20_000;
        Field fa = c.getDeclaredField("a");
        Field fb = c.getDeclaredField("b");
        fa.setAccessible(true);
        fb.setAccessible(true);
        io.fastpath.stack.Stack a = (io.fastpath.stack.Stack) fa.get(bm);
        io.fastpath.stack.Stack b = (io.fastpath.stack.Stack) fb.get(bm);
        long directBefore = directEvents(c, bm);
        long framesBefore = a.counters().txFrames.get() + b.counters().txFrames.get();
        long before = rounds.getLong(bm);
        for (int i = 0; i < n; i++) {
            rt.invoke(bm);
        }
        long frames = a.counters().txFrames.get() + b.counters().txFrames.get() - framesBefore;
        long direct = directEvents(c, bm) - directBefore;
        System.out.printf("%s %s B: %.3f rounds per round trip, %.3f frames sent per round trip, %.3f events by"
            + " direct call per round trip%n", args[0], size.getInt(bm), (rounds.getLong(bm) - before) / (double) n,
            frames / (double) n, direct / (double) n);
        c.getMethod("tearDown").invoke(bm);
    }

    /**
     * Events delivered by direct call to the benchmark's providers' clients so far (each provider's
     * {@code pump}, or a side's {@code tcp} client in TcpServiceRoundTripBenchmark; 0 on a jar without direct
     * events).
     */
    static long directEvents(Class<?> c, Object bm) throws Exception {
        long n = 0;
        for (Field f : c.getDeclaredFields()) {
            f.setAccessible(true);
            Object provider = f.get(bm);
            if (provider == null) {
                continue;
            }
            Object client;
            try {
                Field pump = provider.getClass().getDeclaredField("pump");
                pump.setAccessible(true);
                client = pump.get(provider).getClass().getMethod("client").invoke(pump.get(provider));
            } catch (NoSuchFieldException e) {
                try { // TcpServiceRoundTripBenchmark's sides: the client itself
                    Field tcp = provider.getClass().getDeclaredField("tcp");
                    tcp.setAccessible(true);
                    client = tcp.get(provider);
                    if (!client.getClass().getSimpleName().equals("TcpServiceClient")) {
                        continue; // a Stack's own tcp field
                    }
                } catch (NoSuchFieldException e2) {
                    continue;
                }
            }
            try {
                n += (long) client.getClass().getMethod("directEventsDelivered").invoke(client);
            } catch (NoSuchMethodException e) {
                return 0;
            }
        }
        return n;
    }
}
