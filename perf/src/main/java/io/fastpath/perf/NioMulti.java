package io.fastpath.perf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * java.nio ping-pong on many connections at once over 127.0.0.1, one thread a side (as the stacks and Netty
 * have): non-blocking sockets, each connection with one message in flight. {@code spin}: both threads poll
 * every socket with {@code read} in a loop; otherwise each waits in {@link Selector#select(Consumer)} (the
 * blocking way to serve many sockets from one thread). Every round trip goes into one {@link RttRecorder}.
 * Thread: the harness's main thread; {@link Side} runs on a {@link PollThread}.
 */
final class NioMulti {
    private NioMulti() {
    }

    static RttRecorder rtt(Json result, TcpHarness.Options options, boolean spin, int connections, String name)
        throws IOException {
        RttRecorder recorder = new RttRecorder(options.nioRttWarmup(), options.rttWarmupNs(), options.rttCount());
        int size = options.messageSize();
        List<SocketChannel> channels = new ArrayList<>();
        Side client = new Side(true, spin, size, recorder);
        Side server = new Side(false, spin, size, null);
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            for (int i = 0; i < connections; i++) {
                SocketChannel c = SocketChannel.open(listener.getLocalAddress());
                SocketChannel s = listener.accept();
                channels.add(c);
                channels.add(s);
                client.add(c);
                server.add(s);
            }
            result.field("mode", spin ? "non-blocking, both threads spin on read() over every socket"
                : "non-blocking, each thread waits in Selector.select").field("connections", connections);
            PollThread serverThread = new PollThread("nio-server", options.serverCpu(), false, server, null, null);
            PollThread clientThread = new PollThread("nio-client", options.clientCpu(), false, client, null, null);
            try {
                serverThread.start();
                // The first messages go out from here: a client waiting in select() would not run a task.
                client.startAll();
                clientThread.start();
                TcpHarness.measureRtt(result, recorder, List.of(Measure.Probe.outside(clientThread),
                    Measure.Probe.outside(serverThread)), () -> {
                        clientThread.checkFailure();
                        serverThread.checkFailure();
                    });
                Measure.writeDistribution(options.out(), name, recorder);
            } finally {
                client.stopped = true;
                server.stopped = true;
                client.selector.wakeup();
                server.selector.wakeup();
                try {
                    clientThread.close();
                } finally {
                    serverThread.close();
                }
            }
        } finally {
            for (SocketChannel c : channels) {
                c.close();
            }
            client.selector.close();
            server.selector.close();
        }
        return recorder;
    }

    /** One side's thread: the client sends, waits for each whole echo, records, sends again; the server echoes. */
    private static final class Side implements PollThread.Work {
        private final boolean isClient;
        private final boolean spin;
        private final int size;
        private final RttRecorder recorder;
        final Selector selector;
        private final List<Conn> conns = new ArrayList<>();
        private Conn[] array = new Conn[0];
        private final Consumer<SelectionKey> onReady = key -> serve((Conn) key.attachment());
        volatile boolean stopped;

        Side(boolean isClient, boolean spin, int size, RttRecorder recorder) throws IOException {
            this.isClient = isClient;
            this.spin = spin;
            this.size = size;
            this.recorder = recorder;
            this.selector = Selector.open();
        }

        void add(SocketChannel channel) throws IOException {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            channel.configureBlocking(false);
            Conn c = new Conn(channel, size);
            channel.register(selector, SelectionKey.OP_READ, c);
            conns.add(c);
            array = conns.toArray(new Conn[0]);
        }

        void startAll() {
            for (Conn c : array) {
                send(c);
            }
        }

        private void send(Conn c) {
            ByteBuffer b = c.buffer;
            b.clear();
            b.putLong(0, ++c.sequence);
            c.sentAtNs = System.nanoTime();
            write(c);
        }

        private void write(Conn c) {
            try {
                while (c.buffer.hasRemaining()) {
                    c.channel.write(c.buffer); // 64 B to 16 KiB fits the socket buffer: loops rarely
                }
                c.buffer.clear();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public int doWork() {
            if (stopped) {
                return 0;
            }
            if (spin) {
                int work = 0;
                for (Conn c : array) {
                    work += serve(c);
                }
                return work;
            }
            try {
                return selector.select(onReady);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private int serve(Conn c) {
            try {
                int n = c.channel.read(c.buffer);
                if (n <= 0) {
                    if (n < 0 && !stopped) {
                        throw new IllegalStateException("connection closed by the peer");
                    }
                    return 0;
                }
                if (c.buffer.hasRemaining()) {
                    return 1;
                }
                if (isClient) {
                    long now = System.nanoTime();
                    if (c.buffer.getLong(0) != c.sequence) {
                        recorder.fail("echo of message " + c.sequence + " came back as " + c.buffer.getLong(0));
                        stopped = true;
                        return 0;
                    }
                    recorder.record(now - c.sentAtNs, now);
                    send(c);
                } else {
                    c.buffer.flip();
                    write(c);
                }
                return 1;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static final class Conn {
        final SocketChannel channel;
        final ByteBuffer buffer;
        long sequence;
        long sentAtNs;

        Conn(SocketChannel channel, int size) {
            this.channel = channel;
            this.buffer = ByteBuffer.allocateDirect(size);
            for (int i = 8; i < size; i++) {
                buffer.put(i, (byte) i);
            }
        }
    }
}
