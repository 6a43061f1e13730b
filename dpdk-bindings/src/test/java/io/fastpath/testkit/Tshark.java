package io.fastpath.testkit;

import java.nio.file.Path;

/** Reads captures with tshark (checksum validation on) for tests. */
public final class Tshark {
    private Tshark() {
    }

    private static String clean(String out) {
        StringBuilder sb = new StringBuilder();
        for (String line : out.split("\n")) {
            if (!line.startsWith("Running as user")) {
                sb.append(line).append('\n');
            }
        }
        return sb.toString().trim();
    }

    /** One line per frame: protocol column, then info. */
    public static String summary(Path pcap) {
        return clean(Shell.run("tshark", "-n", "-r", pcap.toString(), "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"));
    }

    /** Frames tshark finds malformed, with a bad checksum, or otherwise in error; empty when clean. */
    public static String problems(Path pcap) {
        return clean(Shell.run("tshark", "-n", "-r", pcap.toString(), "-o", "ip.check_checksum:TRUE",
            "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-Y", "_ws.malformed or _ws.expert.severity == error or ip.checksum.status == \"Bad\""
                + " or icmp.checksum.status == \"Bad\""));
    }
}
