package io.fastpath.tdi;

/**
 * IO_COMPLETION_ROUTINE of a TDI {@link Irp}: runs once per request, on the provider's dispatch thread, when the
 * IRP completes.
 */
@FunctionalInterface
public interface IoCompletionRoutine extends io.fastpath.provider.IoCompletionRoutine<Irp> {
}
