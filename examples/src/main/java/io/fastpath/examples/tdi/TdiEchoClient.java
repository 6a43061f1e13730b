package io.fastpath.examples.tdi;

import io.fastpath.provider.NtStatus;
import io.fastpath.tdi.IoCompletionRoutine;
import io.fastpath.tdi.Irp;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiAddress;
import io.fastpath.tdi.TdiBuild;
import io.fastpath.tdi.TdiConnection;
import io.fastpath.tdi.TdiConnectionInformation;
import io.fastpath.tdi.TdiEventReturn;
import io.fastpath.tdi.TdiEvents;
import io.fastpath.tdi.TdiProvider;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A TDI client: opens an address object on an ephemeral port and a connection endpoint, associates them, sets
 * ClientEventReceive, connects with a time-out, sends {@code total} bytes of a pattern in {@code chunk}-byte
 * TDI_SENDs (all outstanding at once), and checks the echo as it is indicated: the handler takes what is
 * indicated (BytesTaken) and, when more is available than indicated, returns a TDI_RECEIVE IRP with
 * STATUS_MORE_PROCESSING_REQUIRED for the rest. Once everything came back it releases the connection
 * (TDI_DISCONNECT RELEASE), which completes when the server has released its side too.
 *
 * <p>Thread: the provider's dispatch thread; the results may be read from any thread.
 */
public final class TdiEchoClient implements TdiEvents.ClientEventReceive {
    private final TdiProvider tdi;
    private final int serverIp;
    private final int serverPort;
    private final int total;
    private final int chunk;
    private final ByteBuffer data;
    private final long dataAddress;
    private final ByteBuffer rest = ByteBuffer.allocateDirect(64 * 1024);
    private final long restAddress = BufferUtil.address(rest);
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final Irp associate = new Irp();
    private final Irp receiveHandler = new Irp();
    private final Irp connect = new Irp();
    private final Irp receive = new Irp();
    private final Irp release = new Irp();
    private TdiConnection endpoint;
    private TdiAddress address;
    public volatile long received;
    public volatile long sent;
    public volatile long mismatchAt = -1;
    public volatile NtStatus failure = NtStatus.STATUS_SUCCESS;
    public volatile int receiveIrpsUsed;
    public volatile boolean released;

    public TdiEchoClient(TdiProvider tdi, int serverIp, int serverPort, int total, int chunk) {
        this.tdi = tdi;
        this.serverIp = serverIp;
        this.serverPort = serverPort;
        this.total = total;
        this.chunk = chunk;
        this.data = ByteBuffer.allocateDirect(total);
        this.dataAddress = BufferUtil.address(data);
        for (int i = 0; i < total; i++) {
            data.put(i, pattern(i));
        }
    }

    static byte pattern(long i) {
        return (byte) (i * 31 + (i >> 8));
    }

    /** Opens, associates, sets the handler and connects (dispatch thread). */
    public void start(long connectTimeout) {
        address = tdi.openAddress(0, 0);
        endpoint = tdi.openConnection(this);
        tdi.callDriver(TdiBuild.associateAddress(associate, endpoint, null, null, address));
        tdi.callDriver(TdiBuild.setReceiveEventHandler(receiveHandler, address, null, null, this, null));
        tdi.callDriver(TdiBuild.connect(connect, endpoint, this::connected, null, connectTimeout,
            new TdiConnectionInformation(serverIp, serverPort), null));
    }

    private void connected(Irp irp, Object context) {
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
            failure = irp.ioStatus().status();
            return;
        }
        IoCompletionRoutine sentRoutine = (i, c) -> {
            if (i.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                sent += i.ioStatus().information();
            } else {
                failure = i.ioStatus().status();
            }
        };
        for (int at = 0; at < total; at += chunk) {
            tdi.callDriver(TdiBuild.send(new Irp(), endpoint, sentRoutine, null, dataAddress + at, 0,
                Math.min(chunk, total - at)));
        }
    }

    @Override
    public NtStatus clientEventReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                  int bytesIndicated, int bytesAvailable, long tsdu, TdiEventReturn out) {
        check(tsdu, bytesIndicated);
        out.bytesTaken(bytesIndicated);
        if (bytesAvailable > bytesIndicated && !receive.inProgress()) {
            // The rest through an IRP the transport fills at once.
            receiveIrpsUsed++;
            out.irp(TdiBuild.receive(receive, endpoint, this::receivedRest, null, restAddress, 0,
                Math.min(bytesAvailable - bytesIndicated, rest.capacity())));
            return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
        }
        return NtStatus.STATUS_SUCCESS;
    }

    private void receivedRest(Irp irp, Object context) {
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
            failure = irp.ioStatus().status();
            return;
        }
        check(restAddress, (int) irp.ioStatus().information());
    }

    private void check(long at, int length) {
        view.wrap(at, length);
        for (int i = 0; i < length; i++) {
            if (mismatchAt < 0 && view.getByte(i) != pattern(received + i)) {
                mismatchAt = received + i;
            }
        }
        received += length;
        if (received == total) {
            tdi.callDriver(TdiBuild.disconnect(release, endpoint, (irp, c) -> {
                released = irp.ioStatus().status() == NtStatus.STATUS_SUCCESS;
                if (!released) {
                    failure = irp.ioStatus().status();
                }
            }, null, Tdi.relativeTimeout(5000), Tdi.TDI_DISCONNECT_RELEASE, null, null));
        }
    }

    /** Done: released, or failed. */
    public boolean done() {
        return released || failure != NtStatus.STATUS_SUCCESS;
    }

    public TdiConnection endpoint() {
        return endpoint;
    }
}
