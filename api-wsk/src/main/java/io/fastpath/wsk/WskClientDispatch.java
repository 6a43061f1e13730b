package io.fastpath.wsk;

/**
 * The event callbacks of a socket (WSK_CLIENT_*_DISPATCH), given to {@link WskProvider#socket}. Pick the one
 * that fits the socket's category: {@link WskClientListenDispatch}, {@link WskClientConnectionDispatch} or
 * {@link WskClientStreamDispatch}. Callbacks run on the provider's dispatch thread, one at a time, and only
 * for events enabled with SO_WSK_EVENT_CALLBACK; they must not block or wait on other WSK requests.
 */
public interface WskClientDispatch {
}
