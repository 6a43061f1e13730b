package io.fastpath.provider;

/**
 * A SIZE_T out-parameter (PSIZE_T), such as WskReceiveEvent's BytesAccepted: the provider presets it, the
 * callee may change it, the provider reads it back after the call. One per caller, reused; not thread-safe
 * (it lives on the dispatch thread).
 */
public final class SizeT {
    private long value;

    public SizeT() {
    }

    public SizeT(long value) {
        this.value = value;
    }

    public long get() {
        return value;
    }

    public void set(long newValue) {
        this.value = newValue;
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
