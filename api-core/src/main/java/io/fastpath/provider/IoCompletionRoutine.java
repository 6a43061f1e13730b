package io.fastpath.provider;

/**
 * IO_COMPLETION_ROUTINE (IoSetCompletionRoutine): runs exactly once per request, on the provider's dispatch
 * thread, after the IRP's {@link IoStatus} is filled in. The APIs name it in their own words
 * ({@code io.fastpath.wsk.IrpCompletionRoutine}, {@code io.fastpath.tdi.IoCompletionRoutine}), each a
 * sub-interface of this one over its own {@link Irp} type.
 *
 * @param <I> the API's IRP type
 */
@FunctionalInterface
public interface IoCompletionRoutine<I extends Irp<I>> {
    void onComplete(I irp, Object context);
}
