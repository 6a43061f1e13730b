package io.fastpath.stack.adversarial;

/**
 * The device under test as the tests see it (packetimpact's DUT): fastpath in this JVM ({@link Testbench.Dut}) or
 * Linux's sockets in a namespace ({@link LinuxPosixDut}). What a test can ask of either: the accepted
 * connection of a tester port and what its application received, TIME-WAIT, the connection count.
 * fastpath-only assertions (counters) go through {@link #fastpath()}, which is null for Linux.
 */
interface DeviceUnderTest extends AutoCloseable {
    /** The accepted connection from tester port {@code remotePort}, or null if the application has none. */
    Connection accepted(int remotePort);

    boolean inTimeWait(int remotePort);

    /** Connections other than listeners (TIME-WAIT included). */
    int connectionCount();

    /** The application stops (false) or resumes (true) reading: the receive window closes as data queues. */
    void consume(boolean on);

    String describe();

    /** fastpath's own view (stack, counters), or null when the DUT is Linux. */
    default Testbench.Dut fastpath() {
        return null;
    }

    @Override
    void close();

    /** One accepted connection, as its application sees it. */
    interface Connection {
        /** Every byte delivered in order so far (ISO-8859-1). */
        String text();

        /** Neither reset nor closed. */
        boolean open();

        boolean reset();

        /** The peer's FIN arrived (end of stream). */
        boolean peerClosed();

        /** RFC 9293 state name (ESTABLISHED, CLOSE-WAIT, ...). */
        String state();

        /** Half-close: our FIN after what is queued. */
        void shutdown();

        /** Queues bytes for sending; returns how many were taken. */
        int send(byte[] bytes);

        /** Received bytes waiting for the application (the reason the window shrank). */
        int receiveQueued();
    }
}
