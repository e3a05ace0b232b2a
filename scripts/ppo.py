#!/usr/bin/env python
"""Train a recurrent agent with PPO on Catch-v0 or any Gymnasium env, its core chosen by name.

    python scripts/ppo.py --core fastweights --env Catch-v0
    python scripts/ppo.py --core lstm --env popgym:popgym-RepeatFirstEasy-v0 --num-envs 32
    python scripts/ppo.py --resume runs/fastweights-20261203-120000

Exit codes as scripts/a3c.py: 0 done, 1 training failed, 2 bad arguments, checkpoint or run
directory, 3 non-finite loss (the last good checkpoint kept), 4 the run directory could not
be written, 130 / 143 stopped by SIGINT / SIGTERM (saved).
"""

from __future__ import annotations

import sys

try:
    from fw_rl.agents.config import PPOConfig
    from fw_rl.agents.ppo import PPOTrainer
except (KeyboardInterrupt, RuntimeError) as e:  # Ctrl-C while the libraries load
    # (Python 3.11 can wrap it in a RuntimeError from a class being made): nothing begun
    if not isinstance(e, KeyboardInterrupt) and not isinstance(e.__cause__, KeyboardInterrupt):
        raise
    print("ppo.py: stopped (Ctrl-C) while loading, before anything was written", file=sys.stderr)
    sys.exit(130)


def main(argv=None) -> int:
    return PPOTrainer.main(PPOConfig, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
