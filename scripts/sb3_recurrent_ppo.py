#!/usr/bin/env python
"""Train sb3-contrib's RecurrentPPO (LSTM) on a Gymnasium env, into a run folder like ours.

    python scripts/sb3_recurrent_ppo.py --env popgym:popgym-RepeatFirstEasy-v0 --seed 0

Exit codes as scripts/a3c.py: 0 done, 1 training failed, 2 bad arguments, env or run
directory, 3 non-finite loss, 4 the run directory could not be written, 130 / 143 SIGINT /
SIGTERM (saved).
"""

from __future__ import annotations

import sys

from fw_rl.agents.sb3_recurrent_ppo import KIND, RecurrentPPOConfig, RecurrentPPORun
from fw_rl.checkpoint import CheckpointError
from fw_rl.cli import command, parse_config
from fw_rl.envs.factory import EnvError
from fw_rl.run_dir import Resumption, RunDirError


def main(argv=None) -> int:
    resumption = Resumption(KIND)
    config = parse_config(RecurrentPPOConfig, __doc__.split("\n\n")[0], argv, saved=resumption)
    try:
        run = RecurrentPPORun(config, payload=resumption.payload)
    except (CheckpointError, RunDirError, EnvError) as e:
        print(f"{command()}: error: {e}", file=sys.stderr)
        return 2
    return run.train()


if __name__ == "__main__":
    sys.exit(main())
