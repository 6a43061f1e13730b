package io.fastpath.provider;

/** The smallest API IRP: a parameter block of one field. */
final class TestIrp extends Irp<TestIrp> {
    int parameter;
    int begins;

    @Override
    protected void clearParameters() {
        parameter = 0;
    }

    @Override
    protected void onBegin() {
        begins++;
    }
}
