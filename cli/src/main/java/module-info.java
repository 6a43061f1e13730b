/** bin/fastpath: demo, ping, echo servers and clients over each API. Exports nothing. */
module io.fastpath.cli {
    requires io.fastpath.wsk;
    requires io.fastpath.tdi;
    requires io.fastpath.ndk;
    requires org.agrona;
}
