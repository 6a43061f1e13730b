/**
 * Zero-copy views of the protocol headers the stack speaks: Ethernet II, ARP, IPv4, ICMP and TCP, with the
 * RFC 1071 internet checksum. Modelled on smoltcp's {@code wire/} and Agrona's {@code DataHeaderFlyweight}.
 *
 * <p>Each flyweight views memory that the caller owns (normally an mbuf's data room, wrapped with
 * {@code UnsafeBuffer.wrap(address, length)}); it never copies and never allocates. Use is always:
 * {@code wrap(buffer, offset, length)}, then {@code check(...)} once on untrusted input; after
 * {@link io.fastpath.stack.wire.WireError#OK} no accessor can fail or read outside
 * {@code [offset, offset + length)}. For output, wrap a buffer you are filling and use the setters and
 * {@code write...} helpers without checking. All multi-byte fields are network byte order (big-endian).
 *
 * <p>Flyweights are mutable, single-threaded, and meant to be preallocated once per stack agent and rewrapped
 * per packet.
 */
package io.fastpath.stack.wire;
