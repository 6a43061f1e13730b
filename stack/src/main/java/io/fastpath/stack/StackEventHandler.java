package io.fastpath.stack;

/** Outcomes the stack reports to the application thread ({@link Stack#pollEvents}). */
public interface StackEventHandler {
    /** An echo reply to one of our pings arrived. */
    void onEchoReply(int from, int sequence, long roundTripNs);

    /** A ping could not be sent: {@code status} is an {@link NtStatus} (HOST_UNREACHABLE, NETWORK_UNREACHABLE...). */
    void onSendFailed(int destination, int sequence, int status);
}
