package io.fastpath.stack.tcp;

/** RFC 9293 §3.3.2 connection states. */
public final class TcpState {
    public static final int CLOSED = 0;
    public static final int LISTEN = 1;
    public static final int SYN_SENT = 2;
    public static final int SYN_RECEIVED = 3;
    public static final int ESTABLISHED = 4;
    public static final int FIN_WAIT_1 = 5;
    public static final int FIN_WAIT_2 = 6;
    public static final int CLOSE_WAIT = 7;
    public static final int CLOSING = 8;
    public static final int LAST_ACK = 9;
    public static final int TIME_WAIT = 10;

    private static final String[] NAMES = {"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
        "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"};

    private TcpState() {
    }

    public static String name(int state) {
        return NAMES[state];
    }

    /** States after the handshake in which the peer's data is accepted (RFC 9293 §3.10.7.4, seventh). */
    public static boolean receivesData(int state) {
        return state == ESTABLISHED || state == FIN_WAIT_1 || state == FIN_WAIT_2;
    }

    /** States in which we may still send data. */
    public static boolean sendsData(int state) {
        return state == ESTABLISHED || state == CLOSE_WAIT;
    }
}
