package io.fastpath.ndk;

/** NDK_FN_DISCONNECT_EVENT_CALLBACK: the peer closed or reset the connection (at most once per connector). */
@FunctionalInterface
public interface NdkDisconnectEventCallback {
    void onDisconnectEvent(Object disconnectEventContext);
}
