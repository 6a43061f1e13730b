package io.fastpath.wsk;

import io.fastpath.provider.IoCompletionRoutine;

/**
 * IoCompletion routine (IoSetCompletionRoutine) of a WSK {@link Irp}: runs exactly once per call, on the
 * provider's dispatch thread, after the IRP's IoStatus is filled in. It runs before the call returns when the
 * call completes inline (then the call returned the same status), or later from {@link WskProvider#dispatch()}
 * when the call returned STATUS_PENDING.
 *
 * <p>The routine may {@link Irp#reuse()} the IRP and start a new call with it. Keep it short: it runs on
 * the thread that serves every socket of the provider.
 */
@FunctionalInterface
public interface IrpCompletionRoutine extends IoCompletionRoutine<Irp> {
}
