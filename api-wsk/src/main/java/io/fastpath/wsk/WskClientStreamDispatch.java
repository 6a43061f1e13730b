package io.fastpath.wsk;

/** WSK_CLIENT_STREAM_DISPATCH: a stream socket may listen or connect, so it has both sets of events. */
public interface WskClientStreamDispatch extends WskClientListenDispatch, WskClientConnectionDispatch {
}
