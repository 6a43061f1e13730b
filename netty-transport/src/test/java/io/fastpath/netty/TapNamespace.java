package io.fastpath.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.testkit.NetNs;
import io.fastpath.testkit.Shell;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

/**
 * A fastpath event loop group on a net_tap whose kernel side sits in a fresh network namespace: the stack at
 * {@code <prefix><pid>.2}, Linux at {@code .1}, tx/rx checksum offload off on the Linux side. {@link #close}
 * closes the channels the test kept, checks that no duty cycle or event threw, shuts the group down and removes
 * the namespace (with the tap in it), also after a failed start.
 */
final class TapNamespace implements AutoCloseable {
    final NetNs ns;
    final FastpathEventLoopGroup group;
    final String stackIp;
    final String linuxIp;
    /** Channels closed first by {@link #close}. */
    final List<Channel> channels = new ArrayList<>();

    /**
     * @param prefix the first two octets and a dot, e.g. {@code "10.87."} (each test class its own)
     * @param group  makes the group from the tap's vdev string and the stack's address with its prefix length
     */
    TapNamespace(String prefix, BiFunction<String, String, FastpathEventLoopGroup> group) {
        String net = prefix + (ProcessHandle.current().pid() % 200 + 1) + ".";
        stackIp = net + "2";
        linuxIp = net + "1";
        ns = NetNs.create();
        String iface = NetNs.uniqueName("t");
        FastpathEventLoopGroup made = null;
        try {
            made = group.apply("net_tap" + iface + ",iface=" + iface, stackIp + "/24");
            ns.adopt(iface, linuxIp + "/24");
            ns.tryExec(5, "ethtool", "-K", iface, "tx", "off", "rx", "off");
        } catch (RuntimeException | Error e) {
            if (made != null) {
                made.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            ns.close();
            throw e;
        }
        this.group = made;
    }

    /** Runs {@code script} with bash in the namespace; it must exit 0. Returns its output. */
    String run(long seconds, String script) {
        Shell.Result r = ns.tryExec(seconds, "bash", "-c", script);
        assertEquals(0, r.exitCode(), script + " -> " + r.output());
        return r.output();
    }

    @Override
    public void close() {
        try {
            for (Channel c : channels) {
                c.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
            assertEquals(0, group.failures(), "no duty cycle or event threw");
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        } finally {
            ns.close();
        }
    }
}
