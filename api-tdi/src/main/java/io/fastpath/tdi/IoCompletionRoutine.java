package io.fastpath.tdi;

/** IO_COMPLETION_ROUTINE: runs once per request, on the provider's dispatch thread, when the IRP completes. */
@FunctionalInterface
public interface IoCompletionRoutine {
    void onComplete(Irp irp, Object context);
}
