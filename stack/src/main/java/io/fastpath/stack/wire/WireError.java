package io.fastpath.stack.wire;

/**
 * Why a header failed its {@code check()}. The stack counts drops by these, so each value names one cause;
 * {@link #OK} means the header may be read with no further checks.
 */
public enum WireError {
    /** The header is well formed; every accessor stays inside the wrapped range. */
    OK,
    /** Fewer bytes than the fixed part of the header. */
    TRUNCATED,
    /** IPv4 version field is not 4 (RFC 791 §3.1). */
    BAD_VERSION,
    /** IPv4 IHL or TCP data offset below the minimum of 5 words or past the end of the data. */
    BAD_HEADER_LENGTH,
    /** IPv4 total length shorter than the header or longer than the bytes received (RFC 791 §3.1). */
    BAD_TOTAL_LENGTH,
    /** Internet checksum (RFC 1071) does not verify. */
    BAD_CHECKSUM,
    /** An IPv4 fragment: MF set or fragment offset non-zero; the header is otherwise valid (reassembly's input). */
    FRAGMENT,
    /** Well formed but outside what we implement, e.g. ARP for a hardware type other than Ethernet. */
    UNSUPPORTED,
    /** A TCP option with an illegal length (RFC 9293 §3.1, MUST-7). */
    BAD_OPTION
}
