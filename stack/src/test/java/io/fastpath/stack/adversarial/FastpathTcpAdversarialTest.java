package io.fastpath.stack.adversarial;

import java.nio.file.Path;

/** The adversarial TCP suite against fastpath on net_af_packet over a veth. */
class FastpathTcpAdversarialTest extends TcpAdversarialSuite {
    @Override
    Testbench rig(Path dir) throws Exception {
        return new Testbench(dir);
    }
}
