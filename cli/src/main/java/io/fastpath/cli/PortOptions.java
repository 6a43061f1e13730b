package io.fastpath.cli;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.StackRunner;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import java.nio.file.Path;
import java.util.Set;

/**
 * The port flags every command shares: {@code --vdev --ip [--gw] [--mac] [--pcap] [--name] [--idle] [--eal]},
 * and the stack they bring up.
 */
final class PortOptions implements AutoCloseable {
    static final Set<String> WITH_VALUE = Set.of("--vdev", "--ip", "--gw", "--mac", "--pcap", "--name", "--idle",
        "--eal");

    final String vdev;
    final StackConfig config;
    final String pcap;
    final String idle;
    final String eal;
    private PktmbufPool pool;
    private Port port;
    private Stack stack;
    private StackRunner runner;

    PortOptions(Flags flags) {
        this.vdev = flags.required("--vdev");
        StackConfig.Builder builder = StackConfig.builder().name(flags.get("--name", "fastpath"));
        try {
            builder.cidr(flags.required("--ip"));
            if (flags.has("--gw")) {
                builder.gateway(Ipv4Address.parse(flags.get("--gw")));
            }
            if (flags.has("--mac")) {
                builder.mac(MacAddress.parse(flags.get("--mac")));
            }
            this.config = builder.build();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        this.pcap = flags.get("--pcap");
        this.idle = flags.get("--idle", "spin");
        if (!idle.equals("spin") && !idle.equals("backoff")) {
            throw new UsageException("--idle is spin or backoff, got '" + idle + "'");
        }
        this.eal = flags.get("--eal");
    }

    /** Initialises EAL, opens the port, starts the stack on its poll thread. */
    Stack start() {
        Eal.Args args = Eal.Args.defaults();
        if (eal != null) {
            for (String a : eal.trim().split("\\s+")) {
                args.add(a);
            }
        }
        Eal.init(args);
        pool = PktmbufPool.create(config.name() + "_pool", 8191);
        try {
            EthDevPort ethdev = EthDevPort.openVdev(vdev, pool, EthDevPort.Config.defaults());
            port = pcap != null ? new PcapPort(ethdev, Path.of(pcap)) : ethdev;
            stack = new Stack(port, config);
            runner = StackRunner.start(stack, idle.equals("spin") ? StackRunner.busySpin() : StackRunner.backoff());
            return stack;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (runner != null) {
            runner.close();
            runner = null;
        }
        if (stack != null) {
            stack.close();
        }
        if (port != null) {
            port.close();
            port = null;
        }
        if (pool != null) {
            pool.close();
            pool = null;
        }
    }
}
