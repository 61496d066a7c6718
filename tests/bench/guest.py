# guest.py SOCKET COMMAND: runs a shell command inside a VM through QEMU's
# guest agent listening on SOCKET, waits for it and prints its output;
# exits with its exit code. Used by the VM benchmarks.
import base64, json, socket, sys, time

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")


def call(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m


call("guest-sync", id=4242)
pid = call("guest-exec", path="/bin/sh", arg=["-c", sys.argv[2]], **{"capture-output": True})["return"]["pid"]
while True:
    st = call("guest-exec-status", pid=pid)["return"]
    if st["exited"]:
        break
    time.sleep(0.2)
sys.stdout.write(base64.b64decode(st.get("out-data", "")).decode())
sys.exit(st.get("exitcode", 1))
