package io.fastpath.stack;

/**
 * Receives frames the stack delivers as descriptors: the mbuf, the address and length of the frame in it,
 * and where the IPv4 payload starts. No byte is copied; the memory is valid until the frame is released.
 */
@FunctionalInterface
public interface FrameHandler {
    /**
     * @return true to release the frame now (the stack frees it), false to keep it until
     *     {@link Stack#releaseFrame(long)}
     */
    boolean onFrame(long mbuf, long frameAddress, int frameLength, int payloadOffset, int protocol);
}
