package io.fastpath.stack.tcp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Locale;

/**
 * The Linux side of {@link LinuxManyConnectionsTest}: a plain java.nio program, run inside the test's network
 * namespace ({@code ip netns exec}), that opens N connections to an echo server from its source addresses,
 * sends a 16-byte message on each and checks its echo, holds them all open until told to go on (a line on
 * stdin), sends and checks once more on every one, then closes them all (half-close, the server's FIN,
 * release). One thread and one {@link Selector}; at most {@code maxPending} handshakes under way at once (the
 * client paces itself). The test runs several of these (a process may hold at most 20,000 descriptors here,
 * and raising that needs CAP_SYS_RESOURCE).
 *
 * <p>Arguments: {@code server-ip port connections first-index src1,src2,... max-pending}; connection i's stream
 * carries its global number {@code first-index + i}. Output, one line per phase (the test parses them):
 * {@code established N seconds S rate R}, {@code echo1 N}, {@code holding}, {@code held N}, {@code echo2 N},
 * {@code closed N seconds S} (N: connections whose end of stream came after our FIN), and
 * {@code errors connect C reset R eof E mismatch M} at the end (also on failure), then {@code done}.
 */
public final class ManyConnectionsClient {
    static final int MESSAGE = 16;

    private final SocketChannel[] channels;
    private final int[] received;
    private final int connections;
    private final int firstIndex;
    private volatile boolean release;
    private int connectErrors;
    private int resets;
    private int eofs;
    private int mismatches;
    private final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
    private final ByteBuffer out = ByteBuffer.allocate(MESSAGE);

    private ManyConnectionsClient(int connections, int firstIndex) {
        this.connections = connections;
        this.firstIndex = firstIndex;
        this.channels = new SocketChannel[connections];
        this.received = new int[connections];
    }

    /** Byte {@code at} of connection {@code index}'s stream: "c100k#000012345\n" repeated. */
    static byte expected(int index, int at) {
        int i = at % MESSAGE;
        if (i < 6) {
            return (byte) "c100k#".charAt(i);
        }
        if (i == MESSAGE - 1) {
            return '\n';
        }
        int digit = 14 - i; // 9 digits, positions 6..14
        int value = index;
        for (int d = 0; d < digit; d++) {
            value /= 10;
        }
        return (byte) ('0' + value % 10);
    }

    public static void main(String[] args) throws Exception {
        String server = args[0];
        int port = Integer.parseInt(args[1]);
        int n = Integer.parseInt(args[2]);
        int firstIndex = Integer.parseInt(args[3]);
        String[] sources = args[4].split(",");
        int maxPending = Integer.parseInt(args[5]);
        ManyConnectionsClient client = new ManyConnectionsClient(n, firstIndex);
        try {
            client.run(new InetSocketAddress(server, port), sources, maxPending);
        } finally {
            System.out.printf(Locale.ROOT, "errors connect %d reset %d eof %d mismatch %d%n", client.connectErrors,
                client.resets, client.eofs, client.mismatches);
            System.out.println("done");
            System.out.flush();
        }
    }

    private void run(InetSocketAddress server, String[] sources, int maxPending) throws IOException {
        InetSocketAddress[] bindTo = new InetSocketAddress[sources.length];
        for (int i = 0; i < sources.length; i++) {
            bindTo[i] = new InetSocketAddress(sources[i], 0);
        }
        try (Selector selector = Selector.open()) {
            long start = System.nanoTime();
            int opened = 0;
            int established = 0;
            int echoed = 0;
            long lastReport = start;
            while (echoed < connections) {
                while (opened < connections && opened - established < maxPending) {
                    SocketChannel ch = SocketChannel.open();
                    ch.configureBlocking(false);
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    ch.bind(bindTo[opened % bindTo.length]);
                    channels[opened] = ch;
                    if (ch.connect(server)) {
                        established++;
                        send(ch, opened);
                        ch.register(selector, SelectionKey.OP_READ, opened);
                    } else {
                        ch.register(selector, SelectionKey.OP_CONNECT, opened);
                    }
                    opened++;
                }
                selector.select(100);
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    int index = (Integer) key.attachment();
                    SocketChannel ch = (SocketChannel) key.channel();
                    if (key.isConnectable()) {
                        try {
                            ch.finishConnect();
                        } catch (IOException e) {
                            connectErrors++;
                            throw new IOException("connect " + index + " from " + bindTo[index % bindTo.length]
                                + ": " + e.getMessage(), e);
                        }
                        established++;
                        if (established == connections) {
                            double s = (System.nanoTime() - start) / 1e9;
                            System.out.printf(Locale.ROOT, "established %d seconds %.3f rate %.0f%n", established, s,
                                established / s);
                        }
                        send(ch, index);
                        key.interestOps(SelectionKey.OP_READ);
                    } else if (key.isReadable() && read(ch, index) == MESSAGE) {
                        echoed++;
                    }
                }
                long now = System.nanoTime();
                if (resets + eofs + mismatches > 0 || now - start > 600_000_000_000L) {
                    throw new IOException("gave up: opened " + opened + " established " + established + " echoed "
                        + echoed);
                }
                if (now - lastReport > 5_000_000_000L) {
                    lastReport = now;
                    System.out.printf(Locale.ROOT, "progress opened %d established %d echoed %d%n", opened,
                        established, echoed);
                }
            }
            System.out.println("echo1 " + echoed);
            System.out.println("holding");
            System.out.flush();
            Thread stdin = new Thread(() -> {
                try {
                    System.in.read(); // the test's line (or its end): the hold is over
                } catch (IOException ignored) {
                    // the test went away: go on
                }
                release = true;
                selector.wakeup();
            }, "release");
            stdin.setDaemon(true);
            stdin.start();
            // Hold: nothing should arrive; anything that does (data, EOF, reset) is counted.
            while (!release) {
                selector.select(1000);
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    read((SocketChannel) key.channel(), (Integer) key.attachment());
                }
            }
            int open = 0;
            for (SocketChannel ch : channels) {
                open += ch.isOpen() && ch.isConnected() ? 1 : 0;
            }
            System.out.println("held " + open);
            System.out.flush();
            // Second round on every connection, at most 4 x maxPending echoes outstanding (a burst of all of them
            // at once would overflow the tap's queue and turn into retransmissions).
            int echoed2 = 0;
            int sent2 = 0;
            long deadline = System.nanoTime() + 300_000_000_000L;
            while (echoed2 < connections && System.nanoTime() < deadline && resets + eofs + mismatches == 0) {
                while (sent2 < connections && sent2 - echoed2 < 4 * maxPending) {
                    send(channels[sent2], sent2);
                    sent2++;
                }
                selector.select(100);
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    if (read((SocketChannel) key.channel(), (Integer) key.attachment()) == 2 * MESSAGE) {
                        echoed2++;
                    }
                }
            }
            System.out.println("echo2 " + echoed2);
            System.out.flush();
            // Close: half-close (FIN), wait for the server's FIN (end of stream), then release the socket; at most
            // 4 x maxPending closes under way (a burst of all of them would overflow the tap's queue). A
            // connection counts as closed only once its end of stream came, with nothing else after the echo.
            long closeStart = System.nanoTime();
            int closed = 0;
            int shut = 0;
            long closeDeadline = System.nanoTime() + 300_000_000_000L;
            while (closed < connections && System.nanoTime() < closeDeadline && resets + mismatches == 0) {
                while (shut < connections && shut - closed < 4 * maxPending) {
                    channels[shut].shutdownOutput();
                    shut++;
                }
                selector.select(100);
                for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    SocketChannel ch = (SocketChannel) key.channel();
                    int index = (Integer) key.attachment();
                    in.clear();
                    int n;
                    try {
                        n = ch.read(in);
                    } catch (IOException e) {
                        resets++;
                        System.out.println("reset on " + index + " while closing: " + e.getMessage());
                        closeQuietly(ch);
                        continue;
                    }
                    if (n < 0) {
                        closeQuietly(ch);
                        closed++;
                    } else if (n > 0) {
                        mismatches++;
                        System.out.println("unexpected " + n + " bytes on " + index + " while closing");
                    }
                }
            }
            for (SocketChannel ch : channels) {
                closeQuietly(ch);
            }
            System.out.printf(Locale.ROOT, "closed %d seconds %.3f%n", closed, (System.nanoTime() - closeStart) / 1e9);
        }
    }

    private void send(SocketChannel ch, int index) throws IOException {
        out.clear();
        for (int i = 0; i < MESSAGE; i++) {
            out.put(expected(firstIndex + index, i));
        }
        out.flip();
        if (ch.write(out) != MESSAGE) {
            throw new IOException("a 16-byte write did not go out whole on connection " + index);
        }
    }

    /** Reads what is there, checks it, and returns the bytes received on the connection so far. */
    private int read(SocketChannel ch, int index) {
        in.clear();
        int n;
        try {
            n = ch.read(in);
        } catch (IOException e) {
            resets++;
            System.out.println("reset on " + index + ": " + e.getMessage());
            closeQuietly(ch);
            return -1;
        }
        if (n < 0) {
            eofs++;
            System.out.println("eof on " + index);
            closeQuietly(ch);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (in.get(i) != expected(firstIndex + index, received[index] + i)) {
                mismatches++;
                System.out.println("mismatch on " + index + " at " + (received[index] + i) + ": "
                    + new String(new byte[] {in.get(i)}, StandardCharsets.ISO_8859_1));
                break;
            }
        }
        received[index] += n;
        return received[index];
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
