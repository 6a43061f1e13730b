package io.fastpath.provider;

/**
 * Returns a receive descriptor {mbuf, length} of connection {@code handle} to the stack (TcpService.release, with
 * the provider's retry when the request ring is full). Providers hold one instance, made once.
 */
@FunctionalInterface
public interface DescriptorReleaser {
    void release(long handle, long mbuf, int length);
}
