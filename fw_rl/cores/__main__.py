"""``python -m fw_rl.cores``: every registered core, its options and its versions.

``python -m fw_rl.cores --warm-up`` compiles (or loads from numba's cache) the kernels of
every core that declares some, so that no run pays for it (``make`` runs it).
"""

import sys

from fw_rl.cores.declaration import COMPUTE_OPTIONS
from fw_rl.cores.registry import DECLARATIONS, core_options


def describe() -> str:
    lines = []
    for name in sorted(DECLARATIONS):
        d = DECLARATIONS[name]
        lines.append(f"{name}: {d.summary or d.cls.__name__}")
        every = [o for o in core_options(name) if o != "batch_first"]
        model = [o for o in every if o not in COMPUTE_OPTIONS]
        compute = [o for o in every if o in COMPUTE_OPTIONS]
        lines.append(f"  options (--core-options): {', '.join(model) or 'none'}")
        if compute:
            lines.append(f"  how it computes (--core-compute): {', '.join(compute)}")
        for version in sorted(d.versions):
            newest = " (newest)" if version == d.current_version else ""
            lines.append(f"  version {version}{newest}: {d.history.get(version, '')}")
    return "\n".join(lines)


def warm_up() -> str:
    """Run every declared warm-up; one line per core that has one."""
    lines = []
    for name in sorted(DECLARATIONS):
        if DECLARATIONS[name].warm_up is not None:
            seconds = DECLARATIONS[name].warm_up()
            lines.append(f"{name}: kernels ready in {seconds:.1f} s")
    return "\n".join(lines)


USAGE = (
    "python -m fw_rl.cores [--warm-up]: no argument lists the cores; "
    "--warm-up compiles their kernels"
)


def main(argv: list[str]) -> int:
    if argv == ["--warm-up"]:
        print(warm_up())
        return 0
    if argv in (["--help"], ["-h"]):
        print(USAGE)
        return 0
    if argv:
        print(f"unknown arguments {' '.join(argv)!r}; {USAGE}", file=sys.stderr)
        return 2
    print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
