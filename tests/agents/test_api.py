"""The Python API (fw_rl.PPO, fw_rl.A3C, fw_rl.load, fw_rl.evaluate): train, save, load
and act from Python for both algorithms and every core; predict step by step is the
model's sequence call; bad input is a ConfigError that names what is allowed; a core
registered from outside the package trains and loads."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import fw_rl
from fw_rl.agents.model import ActorCritic
from fw_rl.checkpoint import CheckpointError, load_checkpoint
from fw_rl.cores import CORES, CoreDeclaration, register_core
from fw_rl.cores.gru import GRUCore
from fw_rl.cores.registry import CORES as REGISTERED
from fw_rl.cores.registry import DECLARATIONS

REPEAT = "popgym:popgym-RepeatPreviousEasy-v0"
TINY = dict(hidden_size=8, encoder_size=8, eval_interval=256, eval_episodes=2)
PPO_TINY = dict(num_envs=2, rollout_steps=16, minibatches=2, **TINY)
A3C_TINY = dict(workers=1, envs_per_worker=2, rollout_steps=8, **TINY)


class DictEnv(gym.Env):
    """Dict observations (a position and a flag), three actions: for predict's batches."""

    observation_space = spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "flag": spaces.Discrete(2)})
    action_space = spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


def make_dict_env():
    return DictEnv()


def make_cartpole():
    """A module-level factory: a run records it as module:function."""
    import gymnasium as gym

    return gym.make("CartPole-v1")


@pytest.mark.parametrize("core", sorted(CORES))
def test_ppo_learns_saves_loads_and_predicts_with_every_core(tmp_path, core):
    pytest.importorskip("popgym")
    agent = fw_rl.PPO(REPEAT, core=core, verbose=False, **PPO_TINY)
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and agent.run_dir == tmp_path / "run"
    shipped = agent.save(tmp_path / "agent.pt")
    for source in (tmp_path / "run", shipped):
        loaded = fw_rl.load(source, verbose=False)
        assert isinstance(loaded, fw_rl.PPO) and loaded.config.core == core
        for a, b in zip(agent.model.state_dict().values(), loaded.model.state_dict().values()):
            torch.testing.assert_close(a, b)
        obs, _ = loaded.make_env().reset(seed=0)
        action, state = loaded.predict(obs, episode_start=True)
        assert loaded.action_space.contains(action)
        assert state.core[0].shape[0] == 1
    assert isinstance(fw_rl.PPO.load(shipped, verbose=False), fw_rl.PPO)  # SB3's spelling
    with pytest.raises(fw_rl.ConfigError, match="holds a PPO agent, not an A3C one: PPO.load"):
        fw_rl.A3C.load(shipped)
    again = fw_rl.load(shipped, verbose=False).save(tmp_path / "again.pt")  # shipped again
    assert again.read_bytes() == shipped.read_bytes()
    with pytest.raises(ValueError, match="takes a file name, and .* is a folder"):
        agent.save(tmp_path)


def test_a3c_learns_loads_and_predicts(tmp_path):
    pytest.importorskip("popgym")
    for core in ("fastweights", "gru"):
        agent = fw_rl.A3C(REPEAT, core=core, verbose=False, **A3C_TINY)
        agent.learn(total_frames=64, run_dir=tmp_path / core)
        loaded = fw_rl.load(tmp_path / core)
        assert isinstance(loaded, fw_rl.A3C) and loaded.config.core == core
        action, _ = loaded.predict(np.int64(1))
        assert loaded.action_space.contains(action)


@pytest.mark.parametrize("algorithm", ["PPO", "A3C"])
def test_a_run_dir_that_holds_a_run_is_refused_in_the_apis_words(tmp_path, algorithm):
    """learn(run_dir=...) on a folder with another run names learn() and load(), not the
    command line's --resume and --run-dir (which the CLI's message keeps)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"another run's")
    agent = getattr(fw_rl, algorithm)(core="lstm", verbose=False, hidden_size=8, encoder_size=8)
    with pytest.raises(fw_rl.RunDirError) as error:
        agent.learn(total_frames=32, run_dir=run)
    message = str(error.value)
    assert f"{run} already holds a run" in message
    assert f"fw_rl.load({str(run)!r}).learn(...)" in message and "learn(run_dir=" in message
    assert "--resume" not in message and "--run-dir" not in message
    assert (run / "checkpoint.pt").read_bytes() == b"another run's"  # left as it was


def test_a_second_learn_continues_the_same_run(tmp_path):
    pytest.importorskip("popgym")
    agent = fw_rl.PPO(REPEAT, core="lstm", verbose=False, **PPO_TINY)
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    agent.learn(total_frames=128)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    frames = [int(float(r.split(",")[0])) for r in rows[1:]]
    assert frames[-1] == 128 and frames == sorted(frames)


def test_the_run_dir_an_agent_is_made_with_is_where_its_first_learn_writes(tmp_path):
    agent = fw_rl.PPO("CartPole-v1", core="gru", verbose=False, run_dir=str(tmp_path / "mine"),
                      **PPO_TINY)  # fmt: skip
    agent.learn(total_frames=32)
    assert agent.run_dir == tmp_path / "mine" and (tmp_path / "mine" / "checkpoint.pt").is_file()


def test_a3c_in_a_script_without_the_main_guard_is_told_so_in_one_line(tmp_path):
    """Spawned workers import the script again and reach learn(); each says what to do,
    instead of Python's bootstrapping tracebacks."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import fw_rl\n"
        f"agent = fw_rl.A3C('CartPole-v1', core='gru', **{A3C_TINY!r})\n"
        f"agent.learn(total_frames=64, run_dir={str(tmp_path / 'run')!r})\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1 and "TrainingError" in done.stderr
    assert "put the training code under 'if __name__ == \"__main__\":'" in done.stderr
    assert "bootstrapping" not in done.stderr and "AssertionError" not in done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert "could not start (the script has no 'if __name__" in error and "| " not in error
    # nothing trained, nothing kept: the same folder takes the guarded script's run
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    lines = script.read_text().splitlines()
    script.write_text(
        "\n".join([lines[0], "if __name__ == '__main__':", *("    " + x for x in lines[1:])])
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "checkpoint.pt").exists()


def test_predict_step_by_step_equals_the_models_sequence_call():
    """predict carries the recurrent state and the previous action: its actions, fed back
    as one sequence call of the model, give the same policy at every step."""
    agent = fw_rl.PPO("CartPole-v1", core="fastweights", verbose=False, **PPO_TINY)
    env = agent.make_env()
    obs, _ = env.reset(seed=3)
    observations, actions, state = [], [], None
    for t in range(12):
        observations.append(torch.as_tensor(obs, dtype=torch.float32))
        action, state = agent.predict(obs, state, episode_start=t == 0)
        actions.append(int(action))
        obs, *_ = env.step(action)
    sequence = torch.stack(observations)[:, None]
    taken = torch.tensor(actions)[:, None]
    logits, _, _ = agent.model(sequence, None, None, taken)
    assert logits.argmax(-1)[:, 0].tolist() == actions


def test_predict_takes_a_batch_and_clears_the_memory_where_an_episode_starts():
    agent = fw_rl.PPO("CartPole-v1", core="gru", verbose=False, **PPO_TINY)
    obs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    actions, state = agent.predict(obs)
    assert actions.shape == (3,) and state.core[0].shape == (3, 8)
    _, carried = agent.predict(obs, state)
    _, restarted = agent.predict(obs, state, episode_start=[True, False, True])
    _, fresh = agent.predict(obs)
    torch.testing.assert_close(restarted.core[0][0], fresh.core[0][0])
    torch.testing.assert_close(restarted.core[0][1], carried.core[0][1])
    with pytest.raises(ValueError, match="state is for a batch of 3"):
        agent.predict(obs[0], state)


def test_env_as_a_callable_with_wrappers_and_a_continuous_action(tmp_path):
    """A lambda trains with PPO (one process); a Box action is clipped to its bounds."""
    import gymnasium as gym

    agent = fw_rl.PPO(
        lambda: gym.make("Pendulum-v1"),
        core="gru",
        wrappers=["gymnasium.wrappers:TimeAwareObservation"],
        verbose=False,
        **PPO_TINY,
    )
    assert agent.observation_space.shape == (4,)  # Pendulum's 3 + the time
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    action, _ = agent.predict(np.zeros(4, np.float32), deterministic=False)
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0
    result = fw_rl.evaluate(agent, episodes=2, max_steps=20)
    assert result["capped"] == 1.0 and np.isfinite(result["mean_return"])
    told = r"^env_kwargs \{\} for factory:.*unexpected keyword argument 'render_mode'"
    with pytest.raises(fw_rl.ConfigError, match=told):  # the API's words, not --env-kwargs
        agent.make_env(render_mode="rgb_array")  # the lambda takes no render_mode


def test_bad_api_input_is_a_config_error_naming_what_is_allowed():
    import gymnasium as gym

    with pytest.raises(fw_rl.ConfigError, match="takes no setting learning_rate.*lr"):
        fw_rl.PPO("CartPole-v1", learning_rate=3e-4)
    with pytest.raises(fw_rl.ConfigError, match="^lr must be > 0"):
        fw_rl.PPO("CartPole-v1", lr=-1.0)
    with pytest.raises(fw_rl.ConfigError, match="not an env instance"):
        fw_rl.PPO(gym.make("CartPole-v1"))
    with pytest.raises(fw_rl.ConfigError, match="define it in a module of its own"):
        fw_rl.A3C(lambda: gym.make("CartPole-v1"))

    def make_env():
        return gym.make("CartPole-v1")

    make_env.__module__, make_env.__qualname__ = "__main__", "make_env"  # as a script's own
    with pytest.raises(fw_rl.ConfigError, match=r"a function of the script being run \(__main__\)"):
        fw_rl.A3C(make_env)
    with pytest.raises(fw_rl.ConfigError, match="must be one of"):
        fw_rl.PPO("CartPole-v1", core="transformer")
    with pytest.raises(fw_rl.ConfigError, match="episodes must be an int >= 1, got 0"):
        fw_rl.evaluate(fw_rl.PPO("CartPole-v1", verbose=False), episodes=0)
    # Stable-Baselines3's names, and near spellings, are pointed to ours
    with pytest.raises(fw_rl.ConfigError, match=r"learning_rate \(did you mean lr\?\)"):
        fw_rl.PPO("CartPole-v1", learning_rate=1e-3)
    with pytest.raises(fw_rl.ConfigError, match=r"num_env \(did you mean num_envs\?\)"):
        fw_rl.PPO("CartPole-v1", num_env=8)
    with pytest.raises(fw_rl.ConfigError, match="total_timesteps .did you mean total_frames"):
        fw_rl.PPO("CartPole-v1", verbose=False).learn(total_timesteps=100)
    with pytest.raises(fw_rl.ConfigError, match="the first argument is the env, got 'MlpLstm"):
        fw_rl.PPO("MlpLstmPolicy", "CartPole-v1")
    with pytest.raises(fw_rl.ConfigError, match="give minibatches 2 or fewer, more num_envs"):
        fw_rl.PPO("CartPole-v1", num_envs=2)  # the default 4 minibatches of 2 sequences
    with pytest.raises(fw_rl.ConfigError, match="device must be one of 'cpu', 'cuda', 'auto', "):
        fw_rl.PPO("CartPole-v1", device="gpu")  # a flag's choices, as the command line's
    with pytest.raises(fw_rl.ConfigError, match=r"no setting resume: to continue a run, fw_rl.lo"):
        fw_rl.PPO("CartPole-v1", resume="runs/x")
    with pytest.raises(fw_rl.ConfigError, match=r"num_envs \(did you mean envs_per_worker\?\)"):
        fw_rl.A3C("CartPole-v1", num_envs=2)  # PPO's name, in A3C
    with pytest.raises(fw_rl.ConfigError, match="names are lower case: 'gru'"):
        fw_rl.PPO("CartPole-v1", core="GRU")
    assert fw_rl.PPO("CartPole-v1", total_frames=2e6).config.total_frames == 2_000_000
    cartpole = fw_rl.PPO("CartPole-v1", verbose=False)
    for frames in ("abc", 4000.5, True):  # learn's total_frames is checked as the others
        with pytest.raises(fw_rl.ConfigError, match=f"total_frames must be int, got {frames!r}"):
            cartpole.learn(total_frames=frames)
    cartpole.verbose = "yes"  # set after the agent was made: checked by learn()
    with pytest.raises(fw_rl.ConfigError, match="verbose must be 0, 1 or 2"):
        cartpole.learn()
    cartpole.verbose = 0
    with pytest.raises(fw_rl.ConfigError, match="'MountainCar-v0' does not fit the agent: its"):
        fw_rl.evaluate(cartpole, env="MountainCar-v0", episodes=1)  # Box(2) into Box(4)
    with pytest.raises(fw_rl.ConfigError, match="evaluate takes an agent .* got str"):
        fw_rl.evaluate("runs/x")
    assert fw_rl.evaluate(cartpole, env="CartPole-v0", episodes=1, max_steps=5)["capped"] == 1
    for bad, message in [
        (dict(seed=-1), "seed must be an int >= 0, got -1"),
        (dict(seed=1.5), "seed must be an int >= 0, got 1.5"),
        (dict(max_steps=-1), "max_steps must be an int >= 1"),
    ]:
        with pytest.raises(fw_rl.ConfigError, match=message):
            fw_rl.evaluate(cartpole, episodes=1, **bad)
    with pytest.raises(fw_rl.ConfigError, match="^env 'Cathc-v0': .*Did you mean: .Catch"):
        fw_rl.evaluate(cartpole, env="Cathc-v0", episodes=1)  # the keyword, not --env
    with pytest.raises(ValueError, match="deterministic must be True or False, got 'no'"):
        cartpole.predict(np.zeros(4, np.float32), deterministic="no")
    refused = "core .fastweights. refuses its settings: decay .lambda. must be in"
    with pytest.raises(fw_rl.ConfigError, match=refused):
        fw_rl.PPO("CartPole-v1", core_options={"decay": 5})  # a value the core refuses
    fw_rl.A3C(make_cartpole, verbose=False, **A3C_TINY)  # a module-level function is fine
    assert fw_rl.A3C(make_cartpole).config.env == f"{__name__}:make_cartpole"


def test_values_a_python_user_has_are_taken_and_nonsense_is_named():
    """A Path for a folder and numpy's numbers are settings; a core that is not a name and
    env_kwargs that are not JSON are ConfigErrors, not a TypeError or a JSONDecodeError."""
    from pathlib import Path

    agent = fw_rl.PPO("CartPole-v1", run_dir=Path("runs/x"), hidden_size=np.int64(8),
                      lr=np.float32(0.5), verbose=False)  # fmt: skip
    assert agent.config.run_dir == "runs/x" and agent.config.hidden_size == 8
    assert agent.config.lr == 0.5
    agent = fw_rl.PPO("CartPole-v1", previous_action=np.bool_(False), verbose=np.int64(0))
    assert agent.config.previous_action is False and agent.verbose == 0
    assert fw_rl.evaluate(agent, episodes=np.int64(1), max_steps=5)["capped"] == 1.0
    with pytest.raises(fw_rl.ConfigError, match="deterministic must be True or False, got 'no'"):
        fw_rl.evaluate(agent, episodes=1, deterministic="no")
    with pytest.raises(fw_rl.ConfigError, match="core must be a core's name .* got None"):
        fw_rl.PPO("CartPole-v1", core=None)
    with pytest.raises(fw_rl.ConfigError, match="env_kwargs is not JSON"):
        fw_rl.PPO("CartPole-v1", env_kwargs="{bad")
    with pytest.raises(fw_rl.ConfigError, match=r"core_options must be a dict .* got \[1\]"):
        fw_rl.PPO("CartPole-v1", core_options=[1])
    with pytest.raises(fw_rl.ConfigError, match="run_dir must be a folder's path .* got 5"):
        agent.learn(64, run_dir=5)


def test_predict_takes_a_vector_envs_batch_of_dict_observations_and_refuses_others():
    """A vector env gives Dict observations as a dict of arrays, the batch first: one
    action per env, as for a list of the same observations. An observation outside the
    space (FrozenLake's Discrete(16)) is a ValueError naming the space."""
    import gymnasium as gym

    agent = fw_rl.PPO(make_dict_env, core="gru", verbose=False)
    batch = {"pos": np.zeros((3, 2), np.float32), "flag": np.array([0, 1, 1])}
    items = [{"pos": batch["pos"][i], "flag": int(batch["flag"][i])} for i in range(3)]
    actions, state = agent.predict(batch)
    same, _ = agent.predict(items)
    assert actions.shape == (3,) and state.core[0].shape[0] == 3
    np.testing.assert_array_equal(actions, same)
    one, _ = agent.predict(items[1])
    assert np.ndim(one) == 0 and one == actions[1]
    lake = fw_rl.PPO("FrozenLake-v1", core="gru", verbose=False)
    assert lake.observation_space == gym.make("FrozenLake-v1").observation_space
    for bad in (99, -1, 2.5):
        with pytest.raises(ValueError, match=r"obs must be an observation of Discrete\(16\)"):
            lake.predict(bad)
    actions, _ = lake.predict(np.array([0, 5, 15]))
    assert actions.shape == (3,)


def test_verbose_levels_print_as_stable_baselines3s_do(tmp_path, capsys):
    """0 prints nothing, 1 the run's folder and progress without the settings table (a
    second learn() would repeat it), 2 the table too; anything else is refused."""
    printed = {}
    for level in (0, 1, 2):
        agent = fw_rl.PPO("CartPole-v1", core="gru", verbose=level, total_frames=64,
                          run_dir=str(tmp_path / f"v{level}"), **PPO_TINY)  # fmt: skip
        capsys.readouterr()
        agent.learn()
        printed[level] = capsys.readouterr().out
    assert printed[0] == ""
    assert "run directory:" in printed[1] and "| setting | value |" not in printed[1]
    assert f"settings: {tmp_path / 'v1' / 'config.json'}" in printed[1]
    assert "| setting | value |" in printed[2] and "| lr |" in printed[2]
    assert "reached total_frames" in printed[1] and "--total-frames" not in printed[1]
    assert fw_rl.PPO("CartPole-v1", verbose=True).verbose == 1
    with pytest.raises(fw_rl.ConfigError, match="verbose must be 0, 1 or 2 .* got 3"):
        fw_rl.PPO("CartPole-v1", verbose=3)


class ToyCore(GRUCore):
    """A core from outside the package (here, a GRU under another name)."""


def test_a_core_registered_from_outside_trains_one_ppo_update_and_loads(tmp_path):
    register_core(CoreDeclaration(name="toy", cls=ToyCore, history={1: "a GRU, renamed"}))
    try:
        agent = fw_rl.PPO("CartPole-v1", core="toy", verbose=False, **PPO_TINY)
        agent.learn(total_frames=32, run_dir=tmp_path / "run")
        loaded = fw_rl.load(tmp_path / "run")
        assert type(loaded.model.core) is ToyCore and loaded.config.core_version == 1
        with pytest.raises(ValueError, match="registered already"):
            register_core(CoreDeclaration(name="toy", cls=GRUCore))
    finally:
        DECLARATIONS.pop("toy", None)
        REGISTERED.pop("toy", None)


@pytest.mark.parametrize(
    "space",
    [spaces.MultiDiscrete([3, 2]), spaces.MultiBinary(3), spaces.Box(-1.0, 1.0, (2,))],
    ids=["MultiDiscrete", "MultiBinary", "Box"],
)
def test_actor_critic_takes_any_action_space(space):
    model = ActorCritic((4,), space, "lstm", hidden_size=8, encoder_size=8)
    params, values, state = model.act(torch.zeros(5, 4), model.initial_state(5))
    assert params.shape == (5, model.head.params_size) and values.shape == (5,)
    assert space.contains(model.head.to_env(model.head.sample(params))[0])


def test_a_run_shorter_than_its_evaluation_interval_still_ends_with_an_evaluation(tmp_path):
    agent = fw_rl.PPO(
        "CartPole-v1", core="lstm", verbose=False, **{**PPO_TINY, "eval_interval": 10**6}
    )
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    rows = (tmp_path / "run" / "eval.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("64,")  # one evaluation, at the last frame
    assert (tmp_path / "run" / "best.pt").is_file()


def test_default_run_folders_name_the_algorithm_and_never_collide(tmp_path, monkeypatch):
    from fw_rl.agents.agent_run import default_run_dir
    from fw_rl.agents.config import PPOConfig

    monkeypatch.chdir(tmp_path)
    config = PPOConfig(env="CartPole-v1", core="gru")
    first = default_run_dir(config, "ppo")
    assert first.startswith("runs/ppo-gru-")
    (tmp_path / first).mkdir(parents=True)
    second = default_run_dir(config, "ppo")  # within the same second: first + "-2"
    assert second != first and not (tmp_path / second).exists()


def test_load_takes_the_env_again_for_a_run_given_a_lambda(tmp_path):
    import gymnasium as gym

    agent = fw_rl.PPO(lambda: gym.make("CartPole-v1"), core="gru", verbose=False, **PPO_TINY)
    agent.learn(total_frames=32, run_dir=tmp_path / "run")
    from fw_rl.envs import factory

    factory._FACTORIES.clear()  # as in another process: the lambda is gone
    factory._env_info.cache_clear()
    with pytest.raises(fw_rl.ConfigError, match="^env .factory:.* pass it again"):
        fw_rl.load(tmp_path / "run")
    loaded = fw_rl.load(tmp_path / "run", env=lambda: gym.make("CartPole-v1"))
    assert loaded.action_space.n == 2
    # the env given again is taken as the run's (its recorded name held the first lambda's
    # address), so the run continues where it stopped
    loaded.learn(total_frames=64)
    assert load_checkpoint(tmp_path / "run", kind="ppo")["counters"]["frames"] == 64
    # an env of other spaces does not fit the weights: one line that says it may be the env
    with pytest.raises(CheckpointError, match="or an env with other observations") as wrong:
        fw_rl.load(tmp_path / "run", env=lambda: gym.make("MountainCar-v0"))
    assert "\n" not in str(wrong.value)
    # a named env is another env: refused
    named = fw_rl.load(tmp_path / "run", env="CartPole-v1")
    with pytest.raises(Exception, match="made for another agent .env: checkpoint 'factory:"):
        named.learn(total_frames=96)


def test_learn_in_a_new_folder_starts_from_the_agents_weights(tmp_path):
    agent = fw_rl.PPO("CartPole-v1", core="gru", verbose=False, **PPO_TINY)
    agent.learn(total_frames=64, run_dir=tmp_path / "a")
    trained = {k: v.clone() for k, v in agent.model.state_dict().items()}
    agent.learn(total_frames=32, run_dir=tmp_path / "b", lr=1e-12)  # a new run, no steps taken
    for k, v in agent.model.state_dict().items():
        torch.testing.assert_close(v, trained[k])  # not a fresh initialisation
    shipped = fw_rl.load(agent.save(tmp_path / "agent.pt"))
    assert shipped.run_dir is None  # a checkpoint file: learn() starts a new run from it


def test_keywords_are_checked_as_the_flags_are():
    with pytest.raises(fw_rl.ConfigError, match="num_envs must be int, got 'four'"):
        fw_rl.PPO("CartPole-v1", num_envs="four")
    with pytest.raises(fw_rl.ConfigError, match="lr must be float"):
        fw_rl.PPO("CartPole-v1", lr="3e-4")
    agent = fw_rl.PPO("CartPole-v1", core_options={"decay": 0.9}, lr=1,
                      wrappers="gymnasium.wrappers:TimeAwareObservation")  # fmt: skip
    assert agent.model.core.decay == 0.9 and agent.config.lr == 1.0
    assert agent.observation_space.shape == (5,)
    with pytest.raises(fw_rl.ConfigError, match="learn\\(\\) takes no setting learning_rate"):
        agent.learn(total_frames=8, learning_rate=1)
    with pytest.raises(ValueError, match="episode_start must be one bool or one per"):
        agent.predict(np.zeros((3, 5), np.float32), episode_start=[True, False])


def test_a_core_named_module_colon_name_is_found_by_every_process(tmp_path, monkeypatch):
    """``--core my_core:leaky`` imports the module that registers the core, so the CLI, a
    resume and fw_rl.load find it; A3C refuses a core registered in this process only."""
    (tmp_path / "my_core.py").write_text(
        "from fw_rl import CoreDeclaration, register_core\n"
        "from fw_rl.cores.gru import GRUCore\n"
        "class Leaky(GRUCore):\n    pass\n"
        "register_core(CoreDeclaration(name='leaky', cls=Leaky))\n"
    )
    monkeypatch.chdir(tmp_path)
    from fw_rl.scripts import ppo

    flags = ["--env", "CartPole-v1", "--num-envs", "2", "--rollout-steps", "16",
             "--minibatches", "2", "--eval-interval", "32", "--eval-episodes", "1",
             "--no-progress"]  # fmt: skip
    try:
        run = tmp_path / "run"
        assert ppo.main(["--core", "my_core:leaky", *flags, "--total-frames", "32",
                         "--run-dir", str(run)]) == 0  # fmt: skip
        assert ppo.main(["--resume", str(run), "--total-frames", "64", "--no-progress"]) == 0
        assert type(fw_rl.load(run).model.core).__name__ == "Leaky"
        with pytest.raises(fw_rl.ConfigError, match="cannot see core 'leaky'"):
            fw_rl.A3C("CartPole-v1", core="leaky")
    finally:
        DECLARATIONS.pop("leaky", None)
        REGISTERED.pop("leaky", None)


def test_a_run_stopped_by_its_evaluation_is_not_evaluated_again(tmp_path):
    """--stop-at-return ends the run on an evaluation: that one is its last."""
    agent = fw_rl.PPO("CartPole-v1", core="lstm", verbose=False, stop_at_return=-10.0,
                      **{**PPO_TINY, "eval_interval": 32})  # fmt: skip
    agent.learn(total_frames=256, run_dir=tmp_path / "run")
    rows = (tmp_path / "run" / "eval.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("32,")


def test_a_second_learn_with_nothing_left_to_do_says_so(tmp_path):
    """total_frames is the run's total: learn(N) twice would train nothing the second time,
    silently; it is refused with what to give instead."""
    agent = fw_rl.PPO("CartPole-v1", core="gru", num_envs=2, rollout_steps=32, minibatches=2,
                      hidden_size=8, eval_interval=256, eval_episodes=1, verbose=False)  # fmt: skip
    agent.learn(total_frames=256, run_dir=tmp_path / "run")
    with pytest.raises(fw_rl.ConfigError, match="already seen 256 frames.*more than 256"):
        agent.learn(total_frames=256)
    agent.learn(total_frames=512)  # more than it has seen: it continues
    assert fw_rl.load(tmp_path / "run").run_dir == tmp_path / "run"


def test_a_bad_setting_from_python_is_named_by_its_keyword():
    """The config's checks speak flags (--num-envs); from Python the keyword is named."""
    with pytest.raises(fw_rl.ConfigError) as error:
        fw_rl.PPO("CartPole-v1", num_envs=2)  # 2 envs x 128 steps: fewer than 4 minibatches
    assert "minibatches 4" in str(error.value) and "num_envs x rollout_steps" in str(error.value)
    assert "--" not in str(error.value)


def test_catch_made_by_a_function_still_reports_its_successes():
    """Catch's last step says whether the ball was caught, so an evaluation on Catch made
    by a function (no Catch id to go by) has a success rate, as one on "Catch-v0" has."""
    agent = fw_rl.PPO("Catch-v0", size=6, verbose=False, **PPO_TINY)
    by_id = fw_rl.evaluate(agent, episodes=4)
    made = fw_rl.evaluate(
        agent, env=lambda: gym.make("Catch-v0", size=6, visible_steps=5), episodes=4
    )
    assert not np.isnan(made["success_rate"]) and made == by_id


def test_a_resumed_a3c_run_plays_new_episodes_not_its_first_ones(tmp_path, monkeypatch):
    """Each session of an A3C run seeds its workers' envs (and sampling) afresh: a resume
    does not replay the first session's episodes."""
    (tmp_path / "seed_log_env.py").write_text(
        "import os\nimport gymnasium as gym\n"
        "class SeedLog(gym.Wrapper):\n"
        "    def reset(self, *, seed=None, options=None):\n"
        "        if seed is not None:\n"
        "            with open(os.environ['FW_RL_SEED_LOG'], 'a') as f:\n"
        "                f.write(f'{os.getpid()} {seed}\\n')\n"
        "        return super().reset(seed=seed, options=options)\n"
        "def make():\n    return SeedLog(gym.make('CartPole-v1'))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    log = tmp_path / "seeds.txt"
    monkeypatch.setenv("FW_RL_SEED_LOG", str(log))

    def workers_seeds() -> set[str]:  # the training envs', not this process's evaluation's
        lines = [line.split() for line in log.read_text().splitlines()]
        log.unlink()
        return {seed for pid, seed in lines if int(pid) != os.getpid()}

    agent = fw_rl.A3C("seed_log_env:make", core="gru", verbose=False, **A3C_TINY)
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    first = workers_seeds()
    fw_rl.load(tmp_path / "run").learn(total_frames=128)
    # each process checks a user's env once with a reset at seed 0 (fw_rl.envs.contract)
    again = workers_seeds() - {"0"}
    assert first == {"0", "1"} and len(again) == 2 and not first & again  # 2 envs, new seeds


class OffsetActions(gym.Env):
    """Actions from -1 (``Discrete(3, start=-1)``); a step outside the space raises."""

    observation_space = spaces.Box(-1, 1, (2,))
    action_space = spaces.Discrete(3, start=-1)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return np.zeros(2, np.float32), float(action), False, False, {}


def make_offset_actions():
    return gym.wrappers.TimeLimit(OffsetActions(), 8)


def test_a_discrete_action_space_with_an_offset_start_trains_and_predicts(tmp_path):
    agent = fw_rl.PPO(make_offset_actions, core="gru", verbose=False, **PPO_TINY)
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    obs = np.zeros(2, np.float32)
    actions = {int(agent.predict(obs, deterministic=False)[0]) for _ in range(30)}
    assert actions <= {-1, 0, 1}  # the space's values (training's steps checked them too)
    assert -1 <= fw_rl.evaluate(agent, episodes=2)["mean_return"] / 8 <= 1


@pytest.mark.parametrize("algorithm", ["PPO", "A3C"])
def test_a_short_runs_last_metrics_row_has_its_speed(tmp_path, algorithm):
    """A run shorter than the seconds the bar's speed waits for still logs frames per
    second in its last row (it logged 0)."""
    settings = PPO_TINY if algorithm == "PPO" else A3C_TINY
    agent = getattr(fw_rl, algorithm)("CartPole-v1", core="gru", verbose=False, **settings)
    agent.learn(total_frames=64, run_dir=tmp_path / "run")
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    fps = float(rows[-1].split(",")[rows[0].split(",").index("fps")])
    assert fps > 0
