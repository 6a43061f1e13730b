package io.fastpath.cli;

import io.fastpath.dpdk.Native;
import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackEventHandler;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/fastpath}: bring a stack up on a DPDK port, ping from it, echo or send TCP streams, read its
 * counters, run the demo.
 */
public final class Main {
    private static final String USAGE = """
        usage: fastpath <command> [flags]
          up    --vdev <DPDK vdev> | --pci <PCI address>  --ip <a.b.c.d/len> [--gw <a.b.c.d>] [--mac <mac>]
                [--pcap <file>] [--name <name>] [--idle spin|backoff] [--queues N] [EAL flags]
                    answer ARP and ping until SIGINT/SIGTERM; prints 'ready' once it answers
          ping  <port flags as for up> --to <a.b.c.d> [--count N] [--size B]
                    ping from the stack; exit 1 with the NTSTATUS name if a ping fails
          stat  [--name <name> | --file <counters file>] [--all]
                    print a running (or finished) stack's counters; with several queues each queue's
                    ('<name>: queue <q> rx frames') and then their sums
          bench <scenario>|all [--quick] [--out DIR] [--publish]
                    fastpath against java.nio, Netty (epoll, busy-polling epoll, io_uring) and Linux:
                    pingpong, throughput, connrate, fastopen, apis, tap, netty; prints tables and RESULT lines,
                    writes JSON, HdrHistogram logs and plots (docs/perf/README.md). Runs perf's own JVMs
                    through bin/fastpath, not through this class
          echo  <port flags> --listen <tcp port> [--connections C] [--api tcp|wsk|tdi] [--pending]
                [--send-irps N] [--release-timeout S]
                [--max-connections M] [--backlog B] [--buffer BYTES] [--pool MBUFS] [--preallocate]
                    TCP echo server for many concurrent connections; prints 'ready' once listening, runs
                    until SIGINT/SIGTERM, then prints its counters. C (default 64, at most 1024): the
                    concurrency the buffers are sized for. --api tcp only: M (up to 1048576): the
                    connection table (buffers then 256 MiB / M, 4..256 KiB, or BYTES); B: half-open
                    connections per listener before SYN cookies (default max(128, M/16)); MBUFS: the
                    mbuf pool (default 32767); --preallocate: every slot's buffers at start-up
                    (docs/operations.md, "Many connections"). --api wsk: through api-wsk (zero-copy receive
                    events, WskSend, WskRelease; N send IRPs per connection, default 512, a chain with more
                    links is read with one WskReceive copy instead); --api tdi: through api-tdi (chained receives, expedited data
                    echoed as expedited; --pending keeps each chain until its echo was sent;
                    --release-timeout SECONDS, default 30: how long the echo of a released connection
                    may take to drain before it is reset)
          send  <port flags> --to <a.b.c.d:port> --bytes N[K|M|G] [--connections C] [--timeout SECONDS]
                [--api tcp|wsk [--tfo]]
                    send N bytes (per connection; K/M/G = KiB/MiB/GiB) of a pseudo-random stream on each of
                    C connections (default 1, at most 1024) to an echo server and check every byte that
                    comes back; prints the throughput and 'verified <total> bytes', or exit 1 with the
                    NTSTATUS name (e.g. STATUS_CONNECTION_REFUSED) on the last line. Timeout (default 120 s):
                    STATUS_IO_TIMEOUT. --api wsk: connections one after the other through api-wsk
                    (WskConnectEx with the first 64 KiB); --tfo sets TCP_FASTOPEN and reports how many
                    connections carried data in their SYN
          ndk-pingpong [--messages N] [--size B] [--connector-limits IN,OUT] [--listener-limits IN,OUT]
                [--adapter-limits IN,OUT] [--private-data TEXT] [--pcap FILE]
                [--connector-vdev VDEV --listener-vdev VDEV]
                    two stacks on a back-to-back ring pair (or the two given ports) complete the NDK
                    connection sequence over MPA (RFC 5044/6581), print the negotiated limits and private
                    data, ping-pong N messages and print RTT percentiles; one thread drives both stacks and
                    both adapters; exit 1 with the status name on any failure
          demo  bring stacks up on net_tap and on net_af_packet/veth, ping them from Linux namespaces,
                clean up; exit 0 only if every check passed

        --queues N (every command that opens a port; default 1, at most 16): N rx/tx queue pairs (net_af_packet
          gets qpairs=N) and one stack shard per queue, each on its own poll thread; a connection lives on one
          shard, segments that arrive on another queue are forwarded to it. echo (every --api) and send (--api tcp) serve
          connections on every shard; send --api wsk with N > 1: not yet (docs/operations.md, "Several queues")

        EAL flags (every command that starts a port; the start-up line says what EAL got):
          --pci <PCI address>[,devargs]   let EAL probe this device (EAL -a; repeatable). Without --vdev the
                                          port is the first --pci device, which must be bound to vfio-pci.
                                          No --pci: no PCI bus scan at all (--no-pci), virtual ports only
          --huge | --no-huge              force hugepages (fail, saying what is missing, if there are none)
                                          or ordinary memory. Default: hugepages if 512 MiB of them are free
                                          and a hugetlbfs is mounted, else --no-huge -m 512
          --huge-dir <dir>                take hugepages from the hugetlbfs mounted there only
          --socket-mem <MB,MB,...>        hugepage memory per NUMA socket instead of -m 512
          --lcores <map>                  EAL's lcore to CPU map (e.g. 0@2); default 0@(all CPUs)
          --eal "<extra EAL args>"        anything else, passed as given; an option given here wins
          docs/operations.md: vfio-pci binding, hugepages, IOMMU, tuning, every counter of 'stat'
        """;

    private Main() {
    }

    public static void main(String[] argv) {
        int status;
        try {
            status = run(argv);
        } catch (UsageException e) {
            System.err.println("fastpath: " + e.getMessage());
            System.err.println("try: fastpath help");
            status = 2;
        } catch (RuntimeException | LinkageError e) {
            System.err.println("fastpath: " + e.getMessage());
            status = 1;
        }
        System.out.flush();
        // DPDK's threads are not daemons: leave explicitly.
        Runtime.getRuntime().halt(status);
    }

    static int run(String[] argv) {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help")) {
            System.out.print(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        List<String> rest = Arrays.asList(argv).subList(1, argv.length);
        if (!argv[0].equals("stat") && !Native.available()) {
            throw new IllegalStateException(Native.loadFailure());
        }
        return switch (argv[0]) {
            case "up" -> up(rest);
            case "ping" -> ping(rest);
            case "stat" -> stat(rest);
            case "echo" -> TcpCommands.echo(rest);
            case "send" -> TcpCommands.send(rest);
            case "demo" -> Demo.run(rest);
            case "ndk-pingpong" -> NdkPingPong.run(rest);
            default -> throw new UsageException("unknown command '" + argv[0] + "'");
        };
    }

    private static int up(List<String> args) {
        Flags flags = new Flags(args, PortOptions.WITH_VALUE, PortOptions.SWITCHES);
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // A stop on SIGINT/SIGTERM is the normal end of `up`: exit 0 once the counters are out, rather
            // than the signal's 128+n that the JVM would otherwise report.
            System.out.flush();
            Runtime.getRuntime().halt(0);
        });
        PortOptions options = new PortOptions(flags);
        try {
            Stack stack = options.start();
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.println("fastpath " + Ipv4Address.format(stack.address()) + "/" + stack.config().prefixLength()
                + " mac " + MacAddress.format(stack.mac()) + " on " + stack.port().name() + " (counters: "
                + stack.counters().file() + options.ealSummary() + ")");
            System.out.println("ready");
            System.out.flush();
            stop.await();
            options.close();
            System.out.println("counters:");
            StackCounters.format(stack.counters().reader(), false).forEach(System.out::println);
            System.out.flush();
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            options.close();
            stopped.countDown();
        }
    }

    private static int ping(List<String> args) {
        Set<String> withValue = new java.util.HashSet<>(PortOptions.WITH_VALUE);
        withValue.addAll(Set.of("--to", "--count", "--size"));
        Flags flags = new Flags(args, withValue, PortOptions.SWITCHES);
        int to;
        try {
            to = Ipv4Address.parse(flags.required("--to"));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        int count = flags.intValue("--count", 5);
        int size = flags.intValue("--size", 56);
        try (PortOptions options = new PortOptions(flags)) {
            Stack stack = options.start();
            System.out.println("fastpath " + Ipv4Address.format(stack.address()) + " on " + stack.port().name()
                + " pings " + Ipv4Address.format(to) + " (" + options.ealSummary().substring(2) + ")");
            int[] failure = {0};
            int[] replies = {0};
            StackEventHandler handler = new StackEventHandler() {
                @Override
                public void onEchoReply(int from, int sequence, long roundTripNs) {
                    replies[0]++;
                    System.out.printf("%d bytes from %s: icmp_seq=%d time=%.3f ms%n", size + 8,
                        Ipv4Address.format(from), sequence, roundTripNs / 1e6);
                }

                @Override
                public void onSendFailed(int destination, int sequence, int status) {
                    failure[0] = status;
                    System.out.println("icmp_seq=" + sequence + " " + NtStatus.name(status));
                }
            };
            for (int seq = 1; seq <= count && failure[0] == 0; seq++) {
                stack.ping(to, seq, size);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                int before = replies[0];
                while (replies[0] == before && failure[0] == 0 && System.nanoTime() < deadline) {
                    stack.pollEvents(handler);
                    Thread.onSpinWait();
                }
                if (replies[0] == before && failure[0] == 0) {
                    failure[0] = NtStatus.STATUS_IO_TIMEOUT;
                    System.out.println("icmp_seq=" + seq + " " + NtStatus.name(failure[0]));
                }
            }
            System.out.println(replies[0] + "/" + count + " replies");
            if (failure[0] != 0) {
                System.out.println(NtStatus.name(failure[0]));
                return 1;
            }
            return 0;
        }
    }

    private static int stat(List<String> args) {
        Flags flags = new Flags(args, Set.of("--name", "--file"), Set.of("--all"));
        Path file = flags.has("--file") ? Path.of(flags.get("--file"))
            : Path.of("/dev/shm/fastpath", flags.get("--name", "fastpath") + ".counters");
        if (!file.toFile().exists()) {
            throw new IllegalStateException("no counters file " + file + " (is the stack running? --name?)");
        }
        boolean all = flags.has("--all");
        // A stack with several queues: shard 0 in the file, shard q > 0 in <base>.queue<q>.counters beside it.
        List<org.agrona.concurrent.status.CountersReader> readers = new java.util.ArrayList<>();
        readers.add(StackCounters.open(file));
        for (int q = 1; ; q++) {
            Path shard = io.fastpath.stack.StackConfig.shardCountersFile(file, q);
            if (!shard.toFile().exists()) {
                break;
            }
            readers.add(StackCounters.open(shard));
        }
        for (org.agrona.concurrent.status.CountersReader reader : readers) {
            StackCounters.format(reader, all).forEach(System.out::println);
        }
        if (readers.size() > 1) {
            System.out.println("sum over " + readers.size() + " queues:");
            StackCounters.formatSum(readers, all).forEach(System.out::println);
        }
        return 0;
    }
}
