"""The Jupyter side of pyrun-bench: drives ipykernel through jupyter_client.

pyrun-bench starts this with the python of a venv that has jupyter_client and ipykernel
(scripts/bench-setup-jupyter makes one) and sends one JSON request per line on stdin; each
answer is one JSON line on stdout: {"ok": true, "seconds": [...], ...} or {"ok": false,
"error": "..."}. Timing is taken here, next to the Jupyter client, so the pipe to the bench
is not part of any Jupyter figure; the bench alternates requests with its own measurements.

Requests ("op"):
  cold_start            start a kernel, ask `1+1`, time to its result and idle; shut it down
  open                  start the kernel that the warm requests below use
  round_trip   n        `1+1` n times on the open kernel, each timed to idle (all output in)
  stream       code     run code, time until idle, count the stream bytes received
  interrupt    code     run code, wait until it is busy plus `delay` s, interrupt, time to idle
  memory                resident bytes of the open kernel's process
  shutdown              time a graceful shutdown of a fresh kernel that ran `1+1`
  pool         n        start n kernels concurrently, time until all are ready; their memory
"""

import asyncio
import json
import subprocess
import os
import sys
import time

from jupyter_client import AsyncKernelManager, KernelManager

# Kernels inherit this process's stdout: keep the answer channel private and send anything
# else that writes to fd 1 to stderr.
ANSWERS = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

TIMEOUT = 120
# ipykernel warns on stderr at every start (TCP without encryption): not the bench's business.
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def resident_bytes(pid):
    try:
        with open("/proc/%d/status" % pid) as status:
            for row in status:
                if row.startswith("VmRSS:"):
                    return int(row.split()[1]) * 1024
    except OSError:
        pass
    return 0


def kernel_pid(manager):
    provisioner = getattr(manager, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return process.pid if process is not None else 0


def start_kernel():
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(**QUIET)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=TIMEOUT)
    return manager, client


def stop_kernel(manager, client, now=True):
    client.stop_channels()
    manager.shutdown_kernel(now=now)


def run(client, code, when_busy=None):
    """Executes code; returns (seconds to idle, stream bytes). when_busy runs once the kernel
    reports it is busy with this request, and restarts the clock when it returns a time."""
    started = time.perf_counter()
    message_id = client.execute(code)
    stream_bytes = 0
    while True:
        message = client.get_iopub_msg(timeout=TIMEOUT)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        kind = message["msg_type"]
        content = message["content"]
        if kind == "stream":
            stream_bytes += len(content["text"])
        elif kind == "status" and content["execution_state"] == "busy" and when_busy is not None:
            restarted = when_busy()
            if restarted is not None:
                started = restarted
        elif kind == "status" and content["execution_state"] == "idle":
            elapsed = time.perf_counter() - started
            break
    client.get_shell_msg(timeout=TIMEOUT)  # the execute_reply, so the shell queue stays empty
    return elapsed, stream_bytes


async def start_many(count):
    managers = [AsyncKernelManager(kernel_name="python3") for _ in range(count)]

    async def start(manager):
        await manager.start_kernel(**QUIET)
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=TIMEOUT)
        return client

    started = time.perf_counter()
    clients = await asyncio.gather(*(start(manager) for manager in managers))
    elapsed = time.perf_counter() - started
    memory = [resident_bytes(kernel_pid(manager)) for manager in managers]
    for client in clients:
        client.stop_channels()
    await asyncio.gather(*(manager.shutdown_kernel(now=True) for manager in managers))
    return elapsed, memory


class Driver:
    def __init__(self):
        self.manager = None
        self.client = None

    def handle(self, request):
        op = request["op"]
        if op == "hello":
            import ipykernel
            import jupyter_client
            return {"python": sys.version.split()[0], "jupyter_client": jupyter_client.__version__,
                    "ipykernel": ipykernel.__version__}
        if op == "cold_start":
            started = time.perf_counter()
            manager, client = start_kernel()
            run(client, "1+1")
            elapsed = time.perf_counter() - started
            stop_kernel(manager, client)
            return {"seconds": [elapsed]}
        if op == "open":
            if self.manager is None:
                self.manager, self.client = start_kernel()
                for _ in range(20):
                    run(self.client, "1+1")
            return {}
        if op == "round_trip":
            return {"seconds": [run(self.client, "1+1")[0] for _ in range(request["n"])]}
        if op == "stream":
            elapsed, received = run(self.client, request["code"])
            return {"seconds": [elapsed], "bytes": received}
        if op == "interrupt":
            delay = request.get("delay", 0.005)

            def interrupt_when_busy():
                time.sleep(delay)
                started = time.perf_counter()
                self.manager.interrupt_kernel()
                return started

            elapsed, _ = run(self.client, request["code"], when_busy=interrupt_when_busy)
            return {"seconds": [elapsed]}
        if op == "memory":
            return {"bytes": resident_bytes(kernel_pid(self.manager))}
        if op == "shutdown":
            manager, client = start_kernel()
            run(client, "1+1")
            client.stop_channels()
            started = time.perf_counter()
            manager.shutdown_kernel(now=False)
            return {"seconds": [time.perf_counter() - started]}
        if op == "pool":
            elapsed, memory = asyncio.run(start_many(request["n"]))
            return {"seconds": [elapsed], "memory": memory}
        raise ValueError("unknown op %r" % op)

    def close(self):
        if self.manager is not None:
            stop_kernel(self.manager, self.client)


def main():
    driver = Driver()
    try:
        for line in sys.stdin:
            try:
                answer = driver.handle(json.loads(line))
                answer["ok"] = True
            except Exception as error:  # reported to the bench, which says which figure broke
                answer = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
            ANSWERS.write(json.dumps(answer) + "\n")
    finally:
        driver.close()


if __name__ == "__main__":
    main()
