package io.fastpath.provider;

/**
 * Returns a receive descriptor {mbuf, length} of connection {@code handle} to the stack (the client's
 * TcpServiceClient.release, which cannot fail: no retry). Providers hold one instance, made once.
 */
@FunctionalInterface
public interface DescriptorReleaser {
    void release(long handle, long mbuf, int length);
}
