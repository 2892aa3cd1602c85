#!/usr/bin/env python3
"""Carry out QMP commands that a guest test asks for.

A guest test prints a line "# qmp: <json command>" on the results serial
port, for example

    # qmp: {"execute": "device_del", "arguments": {"id": "dmalab1"}}

and this agent, started by run-vm.sh beside QEMU, sends it over QEMU's QMP
socket and logs the answer.  That lets the guest suite drive host-side
events such as hot-unplug in the middle of a transfer.  The agent ends when
QEMU closes the socket or after its time limit.

A device_add of an id whose device_del QEMU has not finished (no
DEVICE_DELETED event yet) waits for it, up to REPLUG_WAIT seconds: the
guest sees the device gone when its driver lets go, a moment before it
powers the slot off and QEMU lets go of the device.

usage: qmp-agent.py <qmp-socket> <results-file> <seconds>
"""
import json
import os
import socket
import sys
import time

MARKER = "# qmp: "
REPLUG_WAIT = 20.0


def device_id(command):
    """The id a device_add or device_del command names, or None."""
    args = command.get("arguments") or {}
    if command.get("execute") in ("device_add", "device_del"):
        return args.get("id")
    return None


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
    received = ""
    deleting = set()    # ids of device_del commands QEMU has not finished
    held = []           # (command text, id, since): device_adds that wait
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
            if not data:
                return 0  # QEMU has gone
            received += data.decode(errors="replace")
            *answers, received = received.split("\n")
            for line in answers:
                print("qmp <- " + line.strip(), flush=True)
                try:
                    answer = json.loads(line)
                except ValueError:
                    continue
                if answer.get("event") == "DEVICE_DELETED":
                    deleting.discard((answer.get("data") or {}).get("device"))
        except (socket.timeout, TimeoutError):
            pass
        except OSError:
            return 0
        for entry in list(held):
            command, dev, since = entry
            if dev in deleting and time.monotonic() - since < REPLUG_WAIT:
                continue
            held.remove(entry)
            print("qmp -> " + command, flush=True)
            sock.sendall((command + "\n").encode())
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
                parsed = json.loads(command)
            except ValueError:
                print("qmp: not JSON: " + command, flush=True)
                continue
            dev = device_id(parsed)
            if parsed.get("execute") == "device_add" and dev in deleting:
                print("qmp: %s waits for the deletion of %s" % (command, dev),
                      flush=True)
                held.append((command, dev, time.monotonic()))
                continue
            if parsed.get("execute") == "device_del" and dev:
                deleting.add(dev)
            print("qmp -> " + command, flush=True)
            sock.sendall((command + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
