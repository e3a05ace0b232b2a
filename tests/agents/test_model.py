"""build_model: every agent field of the config changes the built model as it should."""

import dataclasses

import pytest
import torch
from gymnasium import spaces

from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import ActorCritic, build_model
from fw_rl.cli import fields_with_role
from fw_rl.cores import FastWeightsRNN, IRNNCore, LSTMCore
from fw_rl.envs.catch_rules import CatchRules
from fw_rl.envs.factory import EnvError


def small(**changes) -> A3CConfig:
    return A3CConfig(**{"hidden_size": 16, "encoder_size": 12, "size": 8, **changes})


def test_previous_action_changes_the_core_input():
    fed = build_model(small(previous_action=True))
    blind = build_model(small(previous_action=False))
    assert fed.previous_action and not blind.previous_action
    assert fed.core.input_size == 12 + 3
    assert blind.core.input_size == 12
    obs = torch.zeros(4, 2, 8, 8)
    taken = torch.tensor([[0, 2], [1, 1], [2, 0], [0, 0]])
    other = torch.tensor([[2, 0], [0, 1], [1, 2], [0, 0]])
    # without the previous action, the actions taken cannot change the output
    torch.manual_seed(0)
    blind = build_model(small(previous_action=False))
    a, _, _ = blind(obs, actions=taken)
    b, _, _ = blind(obs, actions=other)
    torch.testing.assert_close(a, b)
    a, _, _ = fed(obs, actions=taken)
    b, _, _ = fed(obs, actions=other)
    torch.testing.assert_close(a[0], b[0])  # no action before the first step
    assert not torch.allclose(a[1:3], b[1:3])


def test_previous_action_is_part_of_the_agents_state():
    model = build_model(small())
    state = model.initial_state(2)
    assert state.last_action.tolist() == [-1, -1]
    obs = torch.rand(3, 2, 8, 8)
    taken = torch.tensor([[2, 0], [1, 1], [0, 2]])
    # step by step, recording each choice, equals one call over the sequence
    steps = []
    for t in range(3):
        logits, _, state = model.act(obs[t], state)
        steps.append(logits)
        state = state.after(taken[t])
    whole, _, end = model(obs, None, None, taken)
    torch.testing.assert_close(torch.stack(steps), whole)
    assert torch.equal(end.last_action, taken[-1]) and torch.equal(state.last_action, taken[-1])
    # a reset forgets the last action with the core's state
    reset = torch.tensor([True, False])
    prev = model.previous_actions(1, 2, state, reset[None], None)
    assert prev.tolist() == [[-1, 2]]
    with pytest.raises(ValueError, match="actions taken"):
        model(obs)  # several steps without the actions


def test_sizes_come_from_the_config_and_the_spaces():
    model = build_model(small(hidden_size=24, encoder_size=20, size=10))
    assert model.observation_shape == (10, 10)
    assert model.encoder[0].in_features == 100
    assert model.encoder[0].out_features == 20
    assert model.core.hidden_size == 24
    assert model.policy.out_features == 3 and model.value.out_features == 1
    wide = build_model(small(), spaces.Box(0, 1, (5, 7), dtype="float32"), spaces.Discrete(4))
    assert wide.encoder[0].in_features == 35 and wide.head.params_size == 4
    assert wide.core.input_size == 12 + 4


@pytest.mark.parametrize(
    ("core", "cls"), [("fastweights", FastWeightsRNN), ("lstm", LSTMCore), ("irnn", IRNNCore)]
)
def test_core_is_built_by_name(core, cls):
    assert isinstance(build_model(small(core=core)).core, cls)


def test_core_options_reach_the_core():
    model = build_model(small(core_options='{"decay": 0.8, "fast_lr": 0.25, "inner_steps": 2}'))
    assert model.core.decay == 0.8
    assert model.core.fast_lr == 0.25
    assert model.core.inner_steps == 2
    default = build_model(small())
    assert default.core.decay == 0.95 and default.core.inner_steps == 1


def test_every_identity_field_changes_the_model():
    """A field that must match on resume must also change what build_model makes."""
    base = small()
    changed = {
        "core": "lstm",
        "hidden_size": 17,
        "encoder_size": 13,
        "core_options": '{"decay": 0.5}',
        "core_version": 1,  # with the options as typed: version 1's default h^0
        "previous_action": False,
        "size": 9,
        "env": "FrozenLake-v1",  # Discrete(16), one-hot
        "env_kwargs": '{"map_name": "8x8"}',  # of FrozenLake: Discrete(64)
        "env_wrappers": "gymnasium.wrappers:TimeAwareObservation",  # CartPole: 4 -> 5
    }
    assert set(changed) == set(fields_with_role(A3CConfig, "identity"))

    def describe(model: ActorCritic):
        core = model.core
        return (
            type(core).__name__,
            core.hidden_size,
            core.input_size,
            model.encoder[0].in_features,
            getattr(core, "decay", None),
            getattr(core, "norm_preliminary", None),
            tuple(p.shape for p in model.parameters()),
        )

    reference = describe(build_model(base))
    for name, value in changed.items():
        typed = {"core_options": "{}"} if name in ("core", "core_version") else {}
        if name == "core":  # another core: its own options and versions
            typed["core_version"] = 0
        against = reference
        if name in ("env", "env_kwargs", "env_wrappers"):  # the board flags: Catch's alone
            typed["size"] = CatchRules.size
        if name == "env_kwargs":  # against FrozenLake's own default map
            typed["env"] = "FrozenLake-v1"
            against = describe(build_model(dataclasses.replace(base, **typed)))
        if name == "env_wrappers":  # against CartPole unwrapped
            typed["env"] = "CartPole-v1"
            against = describe(build_model(dataclasses.replace(base, **typed)))
        other = dataclasses.replace(base, **{name: value, **typed})
        assert describe(build_model(other)) != against, name


def test_an_action_space_no_head_handles_is_refused_in_one_line():
    with pytest.raises(EnvError, match=r"unsupported action space: Tuple\(.*allowed: Discrete"):
        build_model(small(), spaces.Box(0, 1, (8, 8)), spaces.Tuple([spaces.Discrete(2)]))
    with pytest.raises(EnvError, match="must be one-dimensional"):
        build_model(small(), spaces.Box(0, 1, (8, 8)), spaces.MultiDiscrete([[2, 3], [2, 2]]))
