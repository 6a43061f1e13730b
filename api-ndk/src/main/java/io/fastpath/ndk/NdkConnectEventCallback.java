package io.fastpath.ndk;

/**
 * NDK_FN_CONNECT_EVENT_CALLBACK: a connect request arrived on a listener. The consumer must NdkAccept or
 * NdkReject {@code connector} (now or later, on the dispatch thread); NdkGetConnectionData reads the
 * initiator's private data and limits.
 */
@FunctionalInterface
public interface NdkConnectEventCallback {
    void onConnectEvent(Object connectEventContext, NdkConnector connector);
}
