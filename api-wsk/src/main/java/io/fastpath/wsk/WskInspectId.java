package io.fastpath.wsk;

/**
 * WSK_INSPECT_ID: names a connection request a conditional-accept listener is inspecting
 * ({@link WskClientListenDispatch#wskInspectEvent}, {@link WskClientListenDispatch#wskAbortEvent},
 * {@link WskSocket#inspectComplete}). {@code key} is unique per provider, {@code serialNumber} counts the
 * listener's requests.
 */
public record WskInspectId(long key, int serialNumber) {
}
