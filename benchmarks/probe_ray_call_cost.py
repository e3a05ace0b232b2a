"""What one parameter-server call costs in Ray itself, apart from the work it does.

    python benchmarks/probe_ray_call_cost.py chunks    # as RayServer sends (chunks < 100 KiB)
    python benchmarks/probe_ray_call_cost.py one       # one 0.43-MB buffer (object store)
    python benchmarks/probe_ray_call_cost.py one_inline  # one buffer, inline limit raised to 1 MB
    python benchmarks/probe_ray_call_cost.py noop      # chunks, the server does no arithmetic

A local Ray with 2 CPUs and an actor holding a float32 vector of the fast-weights agent's
size (107,908): 300 pushes back to back (calls per second the server sustains; CPU seconds
of the server's and the driver's processes per call), then 100 push-and-wait round trips.
"""

import logging
import sys
import time

import numpy as np
import ray

N, CHUNK = 107_908, 24_000


def main(variant: str) -> None:
    config = {"max_direct_call_object_size": 1 << 20} if variant == "one_inline" else None
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
        _system_config=config,
    )  # fmt: skip
    chunked = variant in ("chunks", "noop")

    def split(a):
        return [a[i : i + CHUNK] for i in range(0, a.size, CHUNK)] if chunked else [a]

    @ray.remote(num_cpus=0)
    class Server:
        def __init__(self):
            self.w = np.zeros(N, np.float32)

        def push(self, *chunks):
            if variant != "noop":
                self.w -= 1e-3 * np.concatenate(chunks)
            return (1, *split(self.w.copy()))

        def cpu(self):
            return time.process_time()

    server = Server.remote()
    gradient = np.random.default_rng(0).normal(0, 1, N).astype(np.float32)
    returns = 1 + len(split(gradient))
    server_cpu, driver_cpu, start = (
        ray.get(server.cpu.remote()),
        time.process_time(),
        time.perf_counter(),
    )
    refs = [server.push.options(num_returns=returns).remote(*split(gradient)) for _ in range(300)]
    ray.get([r for rs in refs for r in rs])
    seconds = time.perf_counter() - start
    server_cpu = ray.get(server.cpu.remote()) - server_cpu
    driver_cpu = time.process_time() - driver_cpu
    start = time.perf_counter()
    for _ in range(100):
        ray.get(list(server.push.options(num_returns=returns).remote(*split(gradient))))
    round_trip = (time.perf_counter() - start) / 100
    print(
        f"{variant}: {300 / seconds:.0f} calls/s back to back, server CPU "
        f"{server_cpu / 300 * 1e3:.2f} ms/call, driver CPU {driver_cpu / 300 * 1e3:.2f} ms/call, "
        f"round trip {round_trip * 1e3:.2f} ms"
    )
    ray.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "chunks")
