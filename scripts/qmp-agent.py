#!/usr/bin/env python3
"""Carry out QMP commands that a guest test asks for.

A guest test prints a line "# qmp: <json command>" on the results serial
port, for example

    # qmp: {"execute": "device_del", "arguments": {"id": "dmalab1"}}

and this agent, started by run-vm.sh beside QEMU, sends it over QEMU's QMP
socket and logs the answer.  That lets the guest suite drive host-side
events such as hot-unplug in the middle of a transfer.  The agent ends when
QEMU closes the socket or after its time limit.

usage: qmp-agent.py <qmp-socket> <results-file> <seconds>
"""
import json
import os
import socket
import sys
import time

MARKER = "# qmp: "


def connect(path, deadline):
    while time.monotonic() < deadline:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock
        except OSError:
            time.sleep(0.1)
    return None


def main():
    path, results, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + seconds
    sock = connect(path, deadline)
    if sock is None:
        return 1
    # Raw recv with a short timeout: a buffered file object cannot be read
    # again after a timeout, so it would end the agent at the first pause.
    sock.settimeout(0.2)
    sock.sendall((json.dumps({"execute": "qmp_capabilities"}) + "\n").encode())
    offset = 0
    pending = ""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
            if not data:
                return 0  # QEMU has gone
            for line in data.decode(errors="replace").splitlines():
                print("qmp <- " + line.strip(), flush=True)
        except (socket.timeout, TimeoutError):
            pass
        except OSError:
            return 0
        try:
            with open(results, "r", errors="replace") as f:
                f.seek(offset)
                chunk = f.read()
                offset = f.tell()
        except FileNotFoundError:
            continue
        pending += chunk
        *lines, pending = pending.split("\n")
        for raw in lines:
            raw = raw.strip("\r")
            if not raw.startswith(MARKER):
                continue
            command = raw[len(MARKER):]
            try:
                json.loads(command)
            except ValueError:
                print("qmp: not JSON: " + command, flush=True)
                continue
            print("qmp -> " + command, flush=True)
            sock.sendall((command + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
