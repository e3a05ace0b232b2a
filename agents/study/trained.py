"""A finished run's final weights, for the study tools that play them (``attention``,
``recall``, ``ablate``, ``generalise``)."""

from __future__ import annotations

from pathlib import Path

from fw_rl.agents.algorithms import agent_kinds
from fw_rl.agents.config import agent_config
from fw_rl.agents.model import ActorCritic, build_model
from fw_rl.checkpoint import load_checkpoint, load_model_state
from fw_rl.cores import core_declaration


def trained_agent(run_dir: Path, without_fast_memory: str | None = None):
    """``(model, config)``: the run's final checkpoint (a run folder or the file), of any
    algorithm, as an evaluation-mode model. With ``without_fast_memory``, a core that has no
    fast memory is a ``ValueError`` naming the run and its core, then this text (what the
    caller cannot do without one)."""
    payload = load_checkpoint(run_dir, kind=agent_kinds())
    config = agent_config(payload)
    if without_fast_memory and not core_declaration(config.core).has_attention:
        raise ValueError(f"{run_dir} is a {config.core} agent: its core has {without_fast_memory}")
    model: ActorCritic = build_model(config)
    load_model_state(model, payload, run_dir)
    model.eval()
    return model, config
