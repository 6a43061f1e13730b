package io.fastpath.netty;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.tcp.LocalPorts;
import java.net.BindException;
import java.net.InetSocketAddress;

/**
 * The local ports of the channels' binds and connects, taken in the stack's one port table ({@link LocalPorts},
 * shared by every shard of the group), with the exceptions a java.net user expects; an instance is the port a socket
 * channel holds. Event loop of the channel.
 */
final class LocalBinds {
    /** The port a socket channel holds in the stack's table (0: none), from bind or connect until it closes. */
    int port;
    /** The loop chose {@link #port} (bind(0), connect), the application did not name it: connect may choose again. */
    private boolean chosen;

    /** A socket channel's bind: takes the port {@code a} names (any, for port 0), lets go of the one held before. */
    void bind(FastpathIoHandler io, InetSocketAddress a, boolean reuseAddress) throws BindException {
        int p = take(io, a, reuseAddress);
        free(io);
        port = p;
        chosen = a.getPort() == 0;
    }

    /**
     * The local port of a connect from {@code io}'s loop to {@code remote}, bound to {@code bindTo} if not null:
     * a port it names is bound; with none held, or port 0 ({@code localAddress(0)}; {@code bind(0)} then connect),
     * the loop chooses, now that the remote is known, a port whose flow RSS gives back to this loop's shard (a port
     * chosen at bind(0) without knowing the remote belongs to another shard (N-1) times in N). A port whose flow is
     * another shard's is refused: the peer's answers would arrive on a shard that does not know the connection.
     * Returns whether the port changed.
     */
    boolean connect(FastpathIoHandler io, InetSocketAddress bindTo, int remoteIp, InetSocketAddress remote,
                    boolean reuseAddress) throws BindException {
        boolean changed = false;
        if (bindTo != null && bindTo.getPort() != 0) {
            bind(io, bindTo, reuseAddress);
            changed = true;
        } else if (bindTo != null || port == 0
            || chosen && io.ownerOf(port, remoteIp, remote.getPort()) != io.shard) {
            if (bindTo != null) {
                checkAddress(io, bindTo);
            }
            int p = forConnect(io, remoteIp, remote);
            free(io);
            port = p;
            chosen = true;
            changed = true;
        }
        try {
            checkOwner(io, port, remoteIp, remote);
        } catch (BindException e) {
            if (changed) {
                free(io); // what this connect took goes with it (NIO closes the socket of a failed connect)
            }
            throw e;
        }
        return changed;
    }

    /** Lets go of the port held, if any. */
    void free(FastpathIoHandler io) {
        if (port != 0 && io != null) {
            io.stack.ports().free(port);
            port = 0;
        }
    }

    /** Refuses an address other than the stack's (or the wildcard). */
    static void checkAddress(FastpathIoHandler io, InetSocketAddress a) throws BindException {
        if (a.getAddress() != null && !a.getAddress().isAnyLocalAddress()
            && Status.ipv4(a.getAddress()) != io.stackAddress()) {
            throw new BindException("cannot assign requested address " + a + ": the stack is "
                + Status.ipv4(io.stackAddress()).getHostAddress());
        }
    }

    /**
     * Takes the port a bind names, alongside its holders with {@code reuseAddress} (SO_REUSEADDR); for port 0, a
     * free port of the ephemeral range. The caller holds it until it frees it.
     */
    static int take(FastpathIoHandler io, InetSocketAddress a, boolean reuseAddress) throws BindException {
        checkAddress(io, a);
        int port = a.getPort();
        if (port == 0) {
            port = io.allocateAnyPort();
            if (port == 0) {
                throw new BindException("no ephemeral port free (" + Status.name(NtStatus.STATUS_TOO_MANY_ADDRESSES)
                    + ")");
            }
        } else if (io.stack.ports().take(port, reuseAddress, false) != LocalPorts.TAKEN) {
            throw new BindException("address already in use: " + a + " ("
                + Status.name(NtStatus.STATUS_SHARING_VIOLATION) + ")");
        }
        return port;
    }

    /**
     * Takes an ephemeral port for a connection from {@code io}'s shard to {@code remote}: one whose flow the port's
     * RSS gives back to that shard ({@link FastpathIoHandler#allocatePort}).
     */
    static int forConnect(FastpathIoHandler io, int remoteIp, InetSocketAddress remote) throws BindException {
        int port = io.allocatePort(remoteIp, remote.getPort());
        if (port == 0) {
            throw new BindException("no ephemeral port free for a connection from stack shard " + io.shard + " to "
                + remote + " (" + Status.name(NtStatus.STATUS_TOO_MANY_ADDRESSES) + ")");
        }
        return port;
    }

    /** Refuses a local port whose flow to {@code remote} is another shard's: its answers would arrive there. */
    static void checkOwner(FastpathIoHandler io, int port, int remoteIp, InetSocketAddress remote)
        throws BindException {
        int owner = io.ownerOf(port, remoteIp, remote.getPort());
        if (owner != io.shard) {
            throw new BindException("local port " + port + " to " + remote + " is a flow of stack shard " + owner
                + ", this channel's loop is shard " + io.shard + "'s: connect from that shard's loop"
                + " (FastpathEventLoopGroup.loop(" + owner + ")) or leave the local port to the loop");
        }
    }
}
