package io.fastpath.provider;

/**
 * DRIVER_CANCEL (IoSetCancelRoutine): what {@link Irp#cancel()} (IoCancelIrp) calls while the IRP is in
 * progress. The provider sets it when it takes the IRP; it runs on the thread that cancels, so a provider
 * typically hands the IRP to its dispatch thread and completes it there with STATUS_CANCELLED if the request
 * has not reached the point of no return.
 *
 * @param <I> the API's IRP type
 */
@FunctionalInterface
public interface CancelRoutine<I extends Irp<I>> {
    void cancel(I irp);
}
