#!/usr/bin/env python
"""Train an A3C agent on Catch-v0 with a recurrent core chosen by name.

    python scripts/a3c.py --core fastweights --workers 16
    python scripts/a3c.py --resume runs/fastweights-20261125-101500

Exit codes: 0 done, 1 a worker failed, 2 bad arguments or checkpoint, 3 non-finite loss,
130 / 143 stopped by SIGINT / SIGTERM (a checkpoint is saved in every case but 3).
"""

from __future__ import annotations

import sys

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.trainer import A3CTrainer
from fw_rl.checkpoint import CheckpointError, load_checkpoint
from fw_rl.cli import parse_config
from fw_rl.run_dir import RunDirError


def main(argv=None) -> int:
    resumed: dict = {}

    def saved_settings(args: dict) -> dict | None:
        """When resuming, the run's own settings fill every flag not given (so
        ``--resume RUN`` alone continues as the run was started). The checkpoint is
        read here, once, and handed to the trainer."""
        if not args.get("resume"):
            return None
        try:
            resumed["payload"] = load_checkpoint(args["resume"])
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        return resumed["payload"]["config"]

    config = parse_config(A3CConfig, __doc__.split("\n\n")[0], argv, saved=saved_settings)
    try:
        trainer = A3CTrainer(config, payload=resumed.get("payload"))
    except (CheckpointError, RunDirError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return trainer.train()


if __name__ == "__main__":
    sys.exit(main())
