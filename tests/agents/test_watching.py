"""Who acts when watching (agents/watching.py): a model carries its state as in training,
the fast-weights agent shows its attention over the past steps, the scoreboard counts."""

import math

import numpy as np
import pytest
import torch

from fw_rl.agents.model import ActorCritic
from fw_rl.agents.watching import ModelAgent, RandomAgent, Scoreboard


def _episode(steps=5, size=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 2, (size, size)).astype(np.float32) for _ in range(steps)]


@pytest.mark.parametrize("core", ["lstm", "fastweights"])
def test_a_model_agent_decides_as_the_model_run_over_its_episode(core):
    torch.manual_seed(0)
    model = ActorCritic((6, 6), 3, core, hidden_size=12, encoder_size=8)
    agent = ModelAgent(model, greedy=True, seed=0, name=core)
    observations = _episode()
    decisions = [agent.decide(obs) for obs in observations]
    actions = torch.tensor([d.action for d in decisions])[:, None]
    with torch.no_grad():
        logits, values, _ = model(
            torch.from_numpy(np.stack(observations))[:, None], actions=actions
        )
    probs = torch.softmax(logits[:, 0], -1).numpy()
    for t, d in enumerate(decisions):
        assert np.allclose(d.probs, probs[t], atol=1e-5)
        assert d.value == pytest.approx(float(values[t, 0]), abs=1e-5)
        assert d.action == int(probs[t].argmax())
        if core == "fastweights":  # weights on the t steps before this one, a distribution
            assert d.attention.shape == (t,) and (d.attention >= 0).all()
        else:
            assert d.attention is None
    agent.reset()
    assert agent.decide(observations[0]).probs == pytest.approx(decisions[0].probs)


def test_a_random_agent_is_uniform_and_seeded():
    a, b = RandomAgent(seed=3), RandomAgent(seed=3)
    picks = [a.decide(None).action for _ in range(50)]
    assert picks == [b.decide(None).action for _ in range(50)]
    assert set(picks) == {0, 1, 2}
    assert np.allclose(a.decide(None).probs, 1 / 3)


def test_the_scoreboard_counts_only_the_episodes_the_env_judged():
    board = Scoreboard()
    assert math.isnan(board.success_rate) and math.isnan(board.mean_return)
    for ret, success in ((1.0, True), (-1.0, False), (0.5, None)):
        board.episode_return = ret
        board.episode_ended(success)
    assert board.finished == 3 and board.judged == 2
    assert board.success_rate == 0.5 and board.mean_return == pytest.approx(0.5 / 3)
