package io.fastpath.ndk;

/**
 * The out-parameters of NdkGetConnectionData: effective read limits and the private-data length. The read
 * limits are ULONGs held in ints; they never exceed 16383 (RFC 6581's 14 bits), so they are never negative.
 */
public final class NdkConnectionData {
    /** pInboundReadLimit. */
    public int inboundReadLimit;
    /** pOutboundReadLimit. */
    public int outboundReadLimit;
    /** *pPrivateDataLength on the way out: the private data's size. */
    public int privateDataLength;

    @Override
    public String toString() {
        return "inbound=" + Integer.toUnsignedString(inboundReadLimit) + " outbound="
            + Integer.toUnsignedString(outboundReadLimit) + " privateData=" + privateDataLength;
    }
}
