package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;

/** NDK_FN_REQUEST_COMPLETION: an asynchronous call that returned STATUS_PENDING ended (dispatch thread). */
@FunctionalInterface
public interface NdkRequestCompletion {
    void complete(Object requestContext, NtStatus status);
}
