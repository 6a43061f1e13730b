package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;

/**
 * Completions of a QP's work requests (what NDK delivers through its completion queues), on the dispatch
 * thread, each exactly once: a send whose bytes the stack took, a receive that a message filled.
 */
public interface NdkQpHandler {
    /** A send completed: STATUS_SUCCESS, or STATUS_CANCELLED / a connection status when it was flushed. */
    void onSendComplete(Object requestContext, NtStatus status, int bytes);

    /**
     * A receive completed with a message of {@code bytes} bytes: STATUS_SUCCESS; STATUS_BUFFER_OVERFLOW when
     * the message was longer than the buffer (the rest is dropped); STATUS_CANCELLED when flushed.
     */
    void onReceiveComplete(Object requestContext, NtStatus status, int bytes);
}
