/* vsock.h - reach a guest's vsock port through Firecracker's Unix socket */
#ifndef FC_VSOCK_H
#define FC_VSOCK_H

#include <stdint.h>

struct fc_err;

/* The guest agent listens here (HACKING.md). */
#define VSOCK_AGENT_PORT 1024

/*
 * Connect to uds (a vsock device's uds_path) and ask for the guest's port:
 * "CONNECT <port>\n" in one write, then the "OK <host port>\n" answer, read
 * so that nothing after its newline is consumed: bytes the guest sends at
 * once stay in the socket for the caller. While the socket is missing or
 * refuses, or the connection ends before OK (nothing listens in the guest
 * yet), it retries with growing pauses until deadline (monotonic ns):
 * then FC_ETIMEOUT with the last reason. watch_fd (or -1): stop with
 * FC_EVMM once it is readable (the VMM exited). Returns the connected fd.
 */
int vsock_connect(const char *uds, unsigned port, int watch_fd,
		  int64_t deadline, struct fc_err *e);

#endif
