"""``python -m fw_rl.cores``: every registered core, its options and its versions."""

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


if __name__ == "__main__":
    print(describe())
