"""Greedy evaluation (agents/evaluate.py): fixed seeds, the success rate where the env
reports one, episodes cut at the step cap."""

import math

import pytest
import torch

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.evaluate import evaluate
from fw_rl.agents.model import build_model

BOARD = {"size": 6, "paddle_width": 1, "ball_speed": 0, "visible_steps": None}


def _model(**kwargs):
    torch.manual_seed(0)
    return build_model(A3CConfig(hidden_size=8, encoder_size=8, **kwargs))


def test_the_same_seeds_give_the_same_result_and_catch_reports_catches():
    model = _model(size=6)
    first = evaluate(model, BOARD, episodes=40, seed=5)
    assert evaluate(model, BOARD, episodes=40, seed=5) == first
    # every Catch episode returns +1 (caught) or -1: the success rate follows the return
    assert first["success_rate"] == pytest.approx((first["mean_return"] + 1) / 2)
    assert first["capped"] == 0.0


def test_episodes_cut_at_the_step_cap_count_their_return_so_far():
    model = _model(size=6)
    result = evaluate(model, BOARD, episodes=10, seed=0, max_steps=2)
    # a 6 x 6 episode lasts 5 steps and rewards only its last: nothing is earned by step 2
    assert result == {"mean_return": 0.0, "success_rate": result["success_rate"], "capped": 1.0}
    assert math.isnan(result["success_rate"])


def test_an_env_that_reports_no_success_has_a_nan_success_rate():
    pytest.importorskip("popgym")
    env_id = "popgym:popgym-RepeatPreviousEasy-v0"
    model = _model(env=env_id)
    result = evaluate(model, {}, episodes=3, seed=0, env_id=env_id, max_steps=200)
    assert math.isnan(result["success_rate"]) and result["capped"] == 0.0
    assert -1.0 <= result["mean_return"] <= 1.0
