package io.fastpath.tdi;

/**
 * TDI_CONNECTION_INFORMATION: {UserDataLength, UserData, OptionsLength, Options, RemoteAddressLength,
 * RemoteAddress}. The remote address is an IPv4 TDI_ADDRESS_IP ({@link #remoteIp()}, {@link #remotePort()});
 * user data is native memory ({@code address}, {@code length}). Caller-owned and reusable; the transport writes
 * the remote address into a ReturnConnectionInformation.
 */
public final class TdiConnectionInformation {
    private int remoteIp;
    private int remotePort;
    private long userData;
    private int userDataLength;

    public TdiConnectionInformation() {
    }

    public TdiConnectionInformation(int remoteIp, int remotePort) {
        remoteAddress(remoteIp, remotePort);
    }

    public TdiConnectionInformation remoteAddress(int ip, int port) {
        this.remoteIp = ip;
        this.remotePort = port;
        return this;
    }

    /**
     * UserData: {@code length} bytes of native memory at {@code address}, read by the request that takes this
     * (connect data) until its IRP completes: the memory must stay valid and its owner reachable until then.
     */
    public TdiConnectionInformation userData(long address, int length) {
        this.userData = address;
        this.userDataLength = length;
        return this;
    }

    public int remoteIp() {
        return remoteIp;
    }

    public int remotePort() {
        return remotePort;
    }

    public long userData() {
        return userData;
    }

    public int userDataLength() {
        return userDataLength;
    }

    @Override
    public String toString() {
        return io.fastpath.stack.wire.Ipv4Address.format(remoteIp) + ":" + remotePort;
    }
}
