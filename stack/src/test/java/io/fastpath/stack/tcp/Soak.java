package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.app.StreamClient;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Connection churn plus bulk transfer for soak tests (issue 10 deliverable 6): up to {@code concurrent} echo
 * clients at a time, each sending a stream of random size (0 to {@code maxBytes}) and checking every byte
 * that comes back, closing gracefully, and one bulk client of {@code bulkBytes} started again whenever it
 * finishes. The caller drives the stack; {@link #step} starts and reaps clients. Test thread only.
 */
final class Soak {
    private final TcpLayer tcp;
    private final int serverIp;
    private final int port;
    private final int concurrent;
    private final int maxBytes;
    private final long bulkBytes;
    private final SplittableRandom random;
    private final List<StreamClient> clients = new ArrayList<>();
    private StreamClient bulk;
    private boolean stopping;
    long connections;
    long bulkConnections;
    long bytesVerified;
    final List<String> failures = new ArrayList<>();

    Soak(TcpLayer tcp, int serverIp, int port, int concurrent, int maxBytes, long bulkBytes, long seed) {
        this.tcp = tcp;
        this.serverIp = serverIp;
        this.port = port;
        this.concurrent = concurrent;
        this.maxBytes = maxBytes;
        this.bulkBytes = bulkBytes;
        this.random = new SplittableRandom(seed);
    }

    /** Reaps finished clients (recording any failure) and starts new ones unless stopping. */
    void step(long nowNs) {
        for (int i = clients.size() - 1; i >= 0; i--) {
            StreamClient c = clients.get(i);
            if (c.done()) {
                reap(c, "client");
                clients.remove(i);
            }
        }
        if (bulk != null && bulk.done()) {
            reap(bulk, "bulk");
            bulk = null;
        }
        if (stopping) {
            return;
        }
        while (clients.size() < concurrent) {
            StreamClient c = new StreamClient(random.nextLong(), random.nextInt(maxBytes + 1));
            int rc = c.connect(tcp, serverIp, port, nowNs);
            if (rc != NtStatus.STATUS_PENDING) {
                failures.add("connect: " + NtStatus.name(rc));
                break;
            }
            clients.add(c);
            connections++;
        }
        if (bulk == null && bulkBytes > 0) {
            bulk = new StreamClient(random.nextLong(), bulkBytes);
            if (bulk.connect(tcp, serverIp, port, nowNs) == NtStatus.STATUS_PENDING) {
                bulkConnections++;
            } else {
                bulk = null;
            }
        }
    }

    private void reap(StreamClient c, String what) {
        if (c.status() != NtStatus.STATUS_SUCCESS) {
            failures.add(what + ": " + NtStatus.name(c.status()) + " sent " + c.sent() + " received " + c.received()
                + " mismatch at " + c.mismatchAt());
        } else {
            bytesVerified += c.received();
        }
    }

    /**
     * Churns for {@code seconds} with {@code dutyCycle} driving the stacks, then stops starting clients and runs
     * until every one has finished (failing after {@code graceSeconds} more, with {@code describe}'s text).
     *
     * @return the heap in use after warm-up (a quarter of the run, at most 10 s), for the caller's growth check
     */
    long run(long seconds, long graceSeconds, Runnable dutyCycle, java.util.function.Supplier<String> describe) {
        long start = System.nanoTime();
        long warmEnd = start + java.util.concurrent.TimeUnit.SECONDS.toNanos(Math.min(10, seconds / 4));
        long end = start + java.util.concurrent.TimeUnit.SECONDS.toNanos(seconds);
        long heapAfterWarmUp = -1;
        while (true) {
            long now = System.nanoTime();
            if (heapAfterWarmUp < 0 && now > warmEnd) {
                heapAfterWarmUp = heapAfterGc();
            }
            if (now > end) {
                stop();
                if (idle()) {
                    return heapAfterWarmUp;
                }
                if (now > end + java.util.concurrent.TimeUnit.SECONDS.toNanos(graceSeconds)) {
                    throw new AssertionError("clients still open " + graceSeconds + " s after the end: " + this
                        + "\n" + describe.get());
                }
            }
            step(now);
            dutyCycle.run();
        }
    }

    void stop() {
        stopping = true;
    }

    boolean idle() {
        return clients.isEmpty() && bulk == null;
    }

    /** Heap in use after a full collection (bytes). */
    static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Override
    public String toString() {
        return connections + " connections + " + bulkConnections + " bulk, " + (bytesVerified >> 20)
            + " MiB echoed and verified, " + failures.size() + " failures" + (failures.isEmpty() ? "" : ": "
            + failures.subList(0, Math.min(5, failures.size())));
    }
}
