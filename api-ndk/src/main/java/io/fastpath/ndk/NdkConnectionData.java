package io.fastpath.ndk;

/** The out-parameters of NdkGetConnectionData: effective read limits and the private-data length. */
public final class NdkConnectionData {
    /** pInboundReadLimit. */
    public int inboundReadLimit;
    /** pOutboundReadLimit. */
    public int outboundReadLimit;
    /** *pPrivateDataLength on the way out: the private data's size. */
    public int privateDataLength;

    @Override
    public String toString() {
        return "inbound=" + inboundReadLimit + " outbound=" + outboundReadLimit + " privateData=" + privateDataLength;
    }
}
