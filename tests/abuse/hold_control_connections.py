"""Opens many control connections to touchpointd and keeps them, as a
staff user trying to lock the admins out would (issue 34, finding 2).

Run by the Swift test `ControlConnectionShareTests` as the user whose share
it tests. On each connection it sends `REQUESTS` requests for `COMMAND`
(refused for a staff user when it is an admin command), reads the replies,
and prints one JSON line: how many connections were taken, how many the
daemon refused at once for too many, how many it closed after refusals.
Then it keeps whatever is still open until its standard input closes.

    python3 hold_control_connections.py SOCKET COUNT COMMAND REQUESTS
"""

import json
import select
import socket
import struct
import sys

path, count, command, requests = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
payload = json.dumps({"v": 1, "command": command, "args": {}}).encode()
frame = struct.pack(">I", len(payload)) + payload


def reply(s, timeout=10.0):
    """One reply frame's JSON, or None once the daemon has closed the connection."""
    buf = b""
    while True:
        if len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) >= 4 + n:
                return json.loads(buf[4:4 + n]), buf[4 + n:]
        ready, _, _ = select.select([s], [], [], timeout)
        if not ready:
            return None, buf
        chunk = s.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk


conns = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conns.append(s)

too_many = 0
closed_after_refusals = 0
kept = []
messages = set()
for s in conns:
    alive = True
    for i in range(requests):
        try:
            s.sendall(frame)
        except OSError:
            pass  # closed already: its one reply (a refusal) may still be there to read
        try:
            r, _ = reply(s)
        except OSError:
            r = None
        if r is None:
            alive = False
            closed_after_refusals += 1
            break
        err = r.get("error") or {}
        if err.get("code") == "unavailable":
            too_many += 1
            messages.add(err.get("message", ""))
            alive = False
            break
    if alive:
        # After the last refusal allowed, the daemon closes: is it still open?
        ready, _, _ = select.select([s], [], [], 0.2)
        if ready and not s.recv(1, socket.MSG_PEEK):
            closed_after_refusals += 1
        else:
            kept.append(s)

print(json.dumps({"opened": len(conns), "too_many": too_many, "closed_after_refusals": closed_after_refusals,
                  "kept": len(kept), "messages": sorted(messages)}), flush=True)
sys.stdin.read()
