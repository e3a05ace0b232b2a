#!/usr/bin/env python
"""Train an A3C agent on any Gymnasium env (Catch-v0 by default), its core chosen by name.

    python scripts/a3c.py --core fastweights --workers 16
    python scripts/a3c.py --resume runs/fastweights-20261125-101500

Exit codes: 0 done, 1 a worker failed, 2 bad arguments, checkpoint or run directory, 3
non-finite loss, 4 the run directory could not be written (a full disk),
130 / 143 stopped by SIGINT / SIGTERM (a checkpoint is saved in every case but 3).
"""

from __future__ import annotations

import sys

try:
    from fw_rl.agents.a3c.trainer import A3CTrainer
    from fw_rl.agents.config import A3CConfig
except (KeyboardInterrupt, RuntimeError) as e:  # Ctrl-C while the libraries load
    # (Python 3.11 can wrap it in a RuntimeError from a class being made): nothing begun
    if not isinstance(e, KeyboardInterrupt) and not isinstance(e.__cause__, KeyboardInterrupt):
        raise
    print("a3c.py: stopped (Ctrl-C) while loading, before anything was written", file=sys.stderr)
    sys.exit(130)


def main(argv=None) -> int:
    return A3CTrainer.main(A3CConfig, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
