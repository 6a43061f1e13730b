package io.fastpath.perf;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The kernel's TCP for comparison: blocking {@link SocketChannel}s with TCP_NODELAY over 127.0.0.1, both ends
 * in this JVM, one thread per socket, pinned like the stacks' poll threads (clients on the client CPU,
 * servers on the server CPU). Direct buffers, so the JDK copies nothing on the Java side.
 *
 * <ul>
 *   <li>{@link #rtt}: the client writes a 64-byte message, reads the 64-byte echo, records the round trip;
 *       the server reads 64 bytes and writes them back. Blocking as asked for, and (an extra) non-blocking
 *       with both threads spinning on {@code read}, which separates the kernel's TCP from its wake-ups.
 *   <li>{@link #bulk}: each client thread writes 64 KiB at a time as fast as the socket takes it; each server
 *       thread reads into 64 KiB and counts.
 * </ul>
 *
 * <p>Allocation is read from outside the threads ({@code getThreadAllocatedBytes(id)}), since a thread may be
 * blocked in a read when the sample is taken. Thread: the harness's main thread.
 */
final class NioLoopback {
    private static final int CHUNK = 64 * 1024;

    private NioLoopback() {
    }

    /**
     * The ping-pong. {@code spin}: both sockets non-blocking and both threads spinning on {@code read} (0 bytes
     * means try again), like the stacks' poll threads: what the kernel's TCP costs without the sleep and
     * wake-up of a blocking read.
     */
    static RttRecorder rtt(Json result, TcpHarness.Options options, boolean spin) throws IOException {
        RttRecorder recorder = new RttRecorder(options.nioRttWarmup(), options.rttWarmupNs(), options.rttCount());
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            SocketChannel client = SocketChannel.open(listener.getLocalAddress());
            SocketChannel server = listener.accept();
            client.setOption(StandardSocketOptions.TCP_NODELAY, true);
            server.setOption(StandardSocketOptions.TCP_NODELAY, true);
            client.configureBlocking(!spin);
            server.configureBlocking(!spin);
            result.field("mode", spin ? "non-blocking, both threads spin on read()" : "blocking");
            PollThread serverThread = new PollThread("nio-server", options.serverCpu(), false,
                new Echo(server, options.messageSize()), null, null);
            PollThread clientThread = new PollThread("nio-client", options.clientCpu(), false,
                new Ping(client, options.messageSize(), recorder), null, null);
            try {
                serverThread.start();
                clientThread.start();
                TcpHarness.measureRtt(result, recorder, List.of(Measure.Probe.outside(clientThread),
                    Measure.Probe.outside(serverThread)), () -> {
                        clientThread.checkFailure();
                        serverThread.checkFailure();
                    });
                Measure.writeDistribution(options.out(), spin ? "nio_rtt_spin" : "nio_rtt", recorder);
            } finally {
                // The client stops after its current round trip; then closing its socket ends the server's
                // blocking read (EOF).
                try {
                    clientThread.close();
                } finally {
                    client.close();
                    serverThread.close();
                    server.close();
                }
            }
        }
        return recorder;
    }

    /**
     * Bulk transfer over {@code connections}; {@code verify}: each reader checks every byte against
     * {@link BulkSender#patternAt} (the writers' 64 KiB chunk is that pattern). Returns the Gbit/s.
     */
    static double bulk(Json result, TcpHarness.Options options, int connections, boolean verify)
        throws IOException {
        double gbit;
        List<SocketChannel> channels = new ArrayList<>();
        List<PollThread> threads = new ArrayList<>();
        List<Writer> writers = new ArrayList<>();
        List<Reader> readers = new ArrayList<>();
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            try {
                for (int i = 0; i < connections; i++) {
                    SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                    channels.add(client);
                    SocketChannel server = listener.accept();
                    channels.add(server);
                    client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    server.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    Writer w = new Writer(client);
                    Reader r = new Reader(server, verify);
                    writers.add(w);
                    readers.add(r);
                    threads.add(new PollThread("nio-server-" + i, options.serverCpu(), false, r, null, null));
                    threads.add(new PollThread("nio-client-" + i, options.clientCpu(), false, w, null, null));
                }
                List<Measure.Probe> probes = new ArrayList<>();
                for (PollThread t : threads) {
                    t.start();
                    probes.add(Measure.Probe.outside(t));
                }
                Runnable check = () -> {
                    threads.forEach(PollThread::checkFailure);
                    readers.forEach(Reader::checkPattern);
                };
                TcpHarness.primeSamples(probes, options.bulkWarmupSeconds());
                check.run();
                long bytes0 = total(readers);
                Measure.Sample before = Measure.sample(probes);
                Measure.sleep((long) (options.bulkSeconds() * 1000));
                long bytes1 = total(readers);
                Measure.Sample after = Measure.sample(probes);
                check.run();
                double seconds = (after.nanoTime() - before.nanoTime()) / 1e9;
                long moved = bytes1 - bytes0;
                gbit = moved * 8 / seconds / 1e9;
                result.field("connections", connections).field("bytes", moved).field("seconds", seconds)
                    .field("gbit_per_s", gbit).field("verified", verify);
                Measure.appendAllocation(result, probes, before, after, Math.max(1, moved >> 20), "mib");
                System.out.printf("   %d connection(s): %.2f Gbit/s (%,d bytes in %.2f s)%n", connections,
                    moved * 8 / seconds / 1e9, moved, seconds);
            } finally {
                writers.forEach(w -> w.stop = true);
                try {
                    Measure.await(() -> readers.stream().allMatch(r -> r.eof), 10, 5, null, "nio bulk close");
                } catch (IllegalStateException e) {
                    System.out.println("   " + e.getMessage());
                    for (SocketChannel c : channels) {
                        c.close(); // unblocks whatever still waits in a read or write
                    }
                }
                for (PollThread t : threads) {
                    t.close();
                }
                for (SocketChannel c : channels) {
                    c.close();
                }
            }
        }
        readers.forEach(Reader::checkPattern);
        return gbit;
    }

    private static long total(List<Reader> readers) {
        long sum = 0;
        for (Reader r : readers) {
            sum += r.bytes.get();
        }
        return sum;
    }

    /** Client of the ping-pong: one blocking round trip per duty cycle. */
    static final class Ping implements PollThread.Work {
        private final SocketChannel channel;
        private final ByteBuffer buffer;
        private final RttRecorder recorder;
        private long sequence;
        private boolean failed;

        Ping(SocketChannel channel, int size, RttRecorder recorder) {
            this.channel = channel;
            this.buffer = ByteBuffer.allocateDirect(size);
            this.recorder = recorder;
            for (int i = 8; i < size; i++) {
                buffer.put(i, (byte) i);
            }
        }

        @Override
        public int doWork() {
            if (failed) {
                return 0;
            }
            try {
                buffer.clear();
                buffer.putLong(0, ++sequence);
                long start = System.nanoTime();
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                buffer.clear();
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        throw new EOFException("server closed");
                    }
                }
                long now = System.nanoTime();
                if (buffer.getLong(0) != sequence) {
                    recorder.fail("echo of message " + sequence + " came back as " + buffer.getLong(0));
                    failed = true;
                    return 0;
                }
                recorder.record(now - start, now);
                return 1;
            } catch (IOException e) {
                failed = true;
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Server of the ping-pong: reads one message, writes it back. */
    private static final class Echo implements PollThread.Work {
        private final SocketChannel channel;
        private final ByteBuffer buffer;
        private boolean eof;

        Echo(SocketChannel channel, int size) {
            this.channel = channel;
            this.buffer = ByteBuffer.allocateDirect(size);
        }

        @Override
        public int doWork() {
            if (eof) {
                return 0;
            }
            try {
                buffer.clear();
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        eof = true;
                        return 0;
                    }
                }
                buffer.flip();
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                return 1;
            } catch (IOException e) {
                eof = true;
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Bulk sender: 64 KiB writes until stopped, then half-closes. */
    private static final class Writer implements PollThread.Work {
        private final SocketChannel channel;
        private final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK);
        volatile boolean stop;
        private boolean finished;

        Writer(SocketChannel channel) {
            this.channel = channel;
            for (int i = 0; i < CHUNK; i++) {
                chunk.put(i, BulkSender.patternAt(i));
            }
        }

        @Override
        public int doWork() {
            if (finished) {
                return 0;
            }
            try {
                if (stop) {
                    channel.shutdownOutput();
                    finished = true;
                    return 0;
                }
                chunk.clear();
                while (chunk.hasRemaining()) {
                    channel.write(chunk);
                }
                return 1;
            } catch (IOException e) {
                finished = true;
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Bulk receiver: reads into 64 KiB and counts (and, if asked, checks every byte), until EOF. */
    private static final class Reader implements PollThread.Work {
        private final SocketChannel channel;
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
        private final UnsafeBuffer view = new UnsafeBuffer(buffer);
        private final StreamVerifier verifier;
        final AtomicLong bytes = new AtomicLong();
        private long total;
        private volatile String failure;
        volatile boolean eof;

        Reader(SocketChannel channel, boolean verify) {
            this.channel = channel;
            this.verifier = verify ? new StreamVerifier() : null;
        }

        void checkPattern() {
            if (failure != null) {
                throw new IllegalStateException("nio reader: " + failure);
            }
        }

        @Override
        public int doWork() {
            if (eof) {
                return 0;
            }
            try {
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    eof = true;
                    return 0;
                }
                if (verifier != null) {
                    long bad = verifier.check(view, 0, n);
                    if (bad >= 0 && failure == null) {
                        failure = "byte " + bad + " is not the pattern's";
                    }
                }
                total += n;
                bytes.lazySet(total);
                return 1;
            } catch (IOException e) {
                eof = true;
                throw new UncheckedIOException(e);
            }
        }
    }
}
