package io.fastpath.testkit;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A scratch network namespace for a test: a Linux host on the other side of a tap or veth. Names are unique
 * per process and test ({@code fp<pid>n<k>}); {@link #close()} deletes the namespace and everything in it,
 * and a shutdown hook does it if the JVM ends first.
 */
public final class NetNs implements AutoCloseable {
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    private final String name;
    private final Thread hook;

    private NetNs(String name) {
        this.name = name;
        this.hook = new Thread(() -> Shell.quietly("ip", "netns", "delete", name));
    }

    /** Creates a namespace with loopback up. */
    public static NetNs create() {
        String name = uniqueName("n");
        Shell.run("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        Runtime.getRuntime().addShutdownHook(ns.hook);
        ns.exec("ip", "link", "set", "lo", "up");
        return ns;
    }

    /** A unique interface or object name of at most 15 characters: {@code fp<pid%100000><kind><k>}. */
    public static String uniqueName(String kind) {
        return "fp" + (ProcessHandle.current().pid() % 100000) + kind + SEQUENCE.incrementAndGet();
    }

    public String name() {
        return name;
    }

    /** Runs a command inside the namespace; fails unless it exits 0. */
    public String exec(String... command) {
        return Shell.run(Shell.prefixed(new String[] {"ip", "netns", "exec", name}, command));
    }

    /** Runs a command inside the namespace and returns its result, whatever it is. */
    public Shell.Result tryExec(long timeoutSeconds, String... command) {
        return Shell.exec(timeoutSeconds, Shell.prefixed(new String[] {"ip", "netns", "exec", name}, command));
    }

    /** Moves a root-namespace interface into this namespace, gives it an address and brings it up. */
    public void adopt(String iface, String cidr) {
        Shell.run("ip", "link", "set", iface, "netns", name);
        exec("ip", "addr", "add", cidr, "dev", iface);
        exec("ip", "link", "set", iface, "up");
    }

    /**
     * Creates a veth pair: {@code outer} stays in the root namespace (for af_packet), {@code inner} moves here
     * with the address; checksum offload is turned off on both so frames carry real checksums.
     */
    public void veth(String outer, String inner, String innerCidr) {
        Shell.run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner);
        Shell.quietly("ethtool", "-K", outer, "tx", "off", "rx", "off");
        Shell.run("ip", "link", "set", outer, "up");
        adopt(inner, innerCidr);
        tryExec(10, "ethtool", "-K", inner, "tx", "off", "rx", "off");
    }

    @Override
    public void close() {
        Shell.quietly("ip", "netns", "delete", name);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
    }
}
