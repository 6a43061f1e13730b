/**
 * The TDI shape over fastpath's TCP ({@code TcpService}): a {@link io.fastpath.tdi.TdiProvider} (the transport's
 * device object) opens transport address objects ({@link io.fastpath.tdi.TdiAddress}) and connection endpoints
 * ({@link io.fastpath.tdi.TdiConnection}); requests are {@link io.fastpath.tdi.Irp}s built by
 * {@link io.fastpath.tdi.TdiBuild} and passed to {@link io.fastpath.tdi.TdiProvider#callDriver}; event handlers
 * ({@link io.fastpath.tdi.TdiEvents}) are set per address object with TDI_SET_EVENT_HANDLER. See docs/api-tdi.md.
 */
package io.fastpath.tdi;
