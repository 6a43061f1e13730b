/**
 * What the Windows-shaped APIs (api-wsk, api-tdi, api-ndk) share, once: {@link io.fastpath.provider.NtStatus}
 * (typed NTSTATUS values with their ntstatus.h names and messages), the IRP core ({@link io.fastpath.provider.Irp},
 * {@link io.fastpath.provider.IoStatus}, {@link io.fastpath.provider.IrpQueue},
 * {@link io.fastpath.provider.IrpCompleter}), the received-data ring ({@link io.fastpath.provider.DescriptorQueue}),
 * the port table ({@link io.fastpath.provider.PortTable}) and the dispatch thread
 * ({@link io.fastpath.provider.DispatchLoop}). Each API keeps its Windows names on top.
 */
package io.fastpath.provider;
