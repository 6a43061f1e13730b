package io.fastpath.netty;

import io.fastpath.stack.NtStatus;
import io.netty.channel.ConnectTimeoutException;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.SocketAddress;
import java.net.UnknownHostException;

/** NTSTATUS values from the stack as the exceptions a Netty (and java.net) user expects, each naming the status. */
final class Status {
    private Status() {
    }

    static String name(int status) {
        return NtStatus.name(status);
    }

    /** A failed connect: refused, no route, timed out, or what else the stack said. */
    static IOException connectFailure(int status, SocketAddress remote) {
        String suffix = ": " + remote + " (" + name(status) + ")";
        return switch (status) {
            case NtStatus.STATUS_CONNECTION_REFUSED -> new ConnectException("connection refused" + suffix);
            case NtStatus.STATUS_HOST_UNREACHABLE, NtStatus.STATUS_NETWORK_UNREACHABLE ->
                new NoRouteToHostException("no route to host" + suffix);
            case NtStatus.STATUS_IO_TIMEOUT -> new ConnectTimeoutException("connection timed out" + suffix);
            case NtStatus.STATUS_SHARING_VIOLATION, NtStatus.STATUS_ADDRESS_ALREADY_EXISTS ->
                new BindException("address already in use" + suffix);
            default -> new ConnectException("connect failed" + suffix);
        };
    }

    /** A connection the stack closed for a reason other than a graceful close. */
    static IOException closed(int status) {
        return switch (status) {
            case NtStatus.STATUS_CONNECTION_RESET -> new IOException("connection reset by peer (" + name(status) + ")");
            case NtStatus.STATUS_IO_TIMEOUT -> new IOException("connection timed out (" + name(status) + ")");
            default -> new IOException("connection closed (" + name(status) + ")");
        };
    }

    /** The stack's IPv4 address (an int, host order) as an InetAddress. */
    static InetAddress ipv4(int ip) {
        byte[] b = {(byte) (ip >>> 24), (byte) (ip >>> 16), (byte) (ip >>> 8), (byte) ip};
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // four bytes are always an address
        }
    }

    static int ipv4(InetAddress address) {
        if (!(address instanceof Inet4Address)) {
            throw new IllegalArgumentException("fastpath speaks IPv4 only, not " + address);
        }
        byte[] b = address.getAddress();
        return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | b[3] & 0xFF;
    }

    static InetSocketAddress socketAddress(int ip, int port) {
        return new InetSocketAddress(ipv4(ip), port);
    }
}
