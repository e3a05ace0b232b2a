"""A3C pieces in one process: rollouts, recurrent-state resets, the shared optimiser."""

import pytest
import torch
import torch.multiprocessing as mp

from fw_rl.agents.a3c.parameter_server import SharedMemoryServer
from fw_rl.agents.a3c.shared_optim import SharedAdam, SharedRMSprop, make_shared_optimiser
from fw_rl.agents.config import A3CConfig, ConfigError
from fw_rl.agents.model import ActorCritic
from fw_rl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def small_model(core="fastweights", size=6):
    torch.manual_seed(0)
    return ActorCritic((size, size), 3, core, hidden_size=16, encoder_size=12)


def _push_ones(model, optimiser, done):
    server = SharedMemoryServer(model, optimiser, max_grad_norm=1e9)
    local = small_model()
    server.pull(local)
    for p in local.parameters():
        p.grad = torch.ones_like(p)
    server.push(local)
    done.put(True)


@pytest.mark.parametrize("cls", [SharedAdam, SharedRMSprop])
def test_shared_optimiser_updates_shared_parameters_from_two_processes(cls):
    model = small_model()
    model.share_memory()
    optimiser = cls(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    procs = [ctx.Process(target=_push_ones, args=(model, optimiser, done)) for _ in range(2)]
    for p in procs:  # one after the other: updates at the same moment may overwrite each
        p.start()  # other (Hogwild, lock-free by design), which would make this test racy
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    steps = [optimiser.state[p]["step"].item() for p in model.parameters()]
    assert steps == [2.0] * len(steps)  # both updates counted in the shared statistics
    for old, new in zip(before, model.parameters()):
        delta = (new.detach() - old).flatten()
        if isinstance(optimiser, SharedAdam):  # a constant gradient moves Adam by lr a step
            torch.testing.assert_close(delta, torch.full_like(delta, -0.02), atol=1e-4, rtol=0)
        else:
            assert (delta < 0).all()


def test_server_rejects_an_optimiser_of_other_parameters():
    model = small_model()
    with pytest.raises(ValueError, match="shared model's own parameters"):
        SharedMemoryServer(model, SharedAdam(small_model().parameters()), 40.0)


def test_unknown_optimiser_is_rejected():
    with pytest.raises(ValueError, match="available: rmsprop, adam"):
        make_shared_optimiser("sgd", small_model().parameters(), 0.1)


def test_checkpoint_round_trip_and_errors(tmp_path):
    model = small_model()
    path = save_checkpoint(
        tmp_path / "checkpoint.pt",
        model_state=model.state_dict(),
        optimiser_state=None,
        counters={"frames": 7},
        config={"core": "x"},
    )
    payload = load_checkpoint(tmp_path)
    assert payload["counters"]["frames"] == 7
    assert not (tmp_path / "checkpoint.pt.tmp").exists()
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(workers=-1), "--workers must be >= 0"),
        (dict(core="transformer"), "--core must be one of"),
        (dict(core_options='{"deacy": 0.9}'), "not accepted by core 'fastweights'"),
        (dict(core_options="[1]"), "JSON object"),
        (dict(visible_steps=-2), "--visible-steps"),
        (dict(paddle_width=30), "--paddle-width"),
        (dict(gamma=1.5), "--gamma"),
        (dict(lr=0.0), "--lr"),
    ],
)
def test_bad_settings_are_rejected(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        A3CConfig(**kwargs)


@pytest.mark.parametrize("cls", [SharedAdam, SharedRMSprop])
def test_statistics_stay_shared_after_loading_a_checkpoint(cls):
    model = small_model()
    optimiser = cls(model.parameters(), lr=0.01)
    saved = optimiser.state_dict()
    optimiser.load_state_dict(saved)  # as a resume does: torch copies the state anew
    tensors = [v for state in optimiser.state.values() for v in state.values()]
    assert tensors and all(t.is_shared() for t in tensors)


def test_progress_bar_total_follows_the_limit_that_ends_the_run_first(tmp_path, monkeypatch):
    from fw_rl.agents.a3c.trainer import A3CTrainer

    config = A3CConfig(
        size=6,
        hidden_size=8,
        encoder_size=8,
        core="lstm",
        workers=1,
        total_frames=20_000_000,
        max_minutes=15,
        run_dir=str(tmp_path / "run"),
    )
    trainer = A3CTrainer(config)
    trainer.counters["frames"] = 1_000_000
    monkeypatch.setattr(trainer.session, "elapsed", lambda: 5 * 60.0)  # 10 minutes left
    # at 10,000 frames/s the time limit ends the run at 7 M frames, not 20 M
    assert trainer.frames_at_end(10_000.0) == 7_000_000
    # at 100,000 frames/s the frame budget comes first
    assert trainer.frames_at_end(100_000.0) == 20_000_000
    other = str(tmp_path / "other")
    no_limit = A3CTrainer(
        A3CConfig(size=6, hidden_size=8, encoder_size=8, core="lstm", max_minutes=0, run_dir=other)
    )
    assert no_limit.frames_at_end(10_000.0) == 20_000_000


def test_progress_bar_total_follows_the_mean_speed_not_the_last_one(tmp_path, monkeypatch):
    """The bar's total is set from the run's mean frames per second since training began:
    a burst or a stall in one logging interval does not swing it."""
    from fw_rl.agents.a3c.trainer import A3CTrainer

    config = A3CConfig(size=6, hidden_size=8, encoder_size=8, core="lstm", workers=1,
                       total_frames=20_000_000, max_minutes=15,
                       run_dir=str(tmp_path / "run"))  # fmt: skip
    trainer = A3CTrainer(config)
    clock = [0.0]  # the session's clock, moved by hand: a loaded machine cannot shift it
    monkeypatch.setattr(trainer.session, "elapsed", lambda: clock[0])
    bar = trainer.progress_bar()
    assert trainer.mean_fps() == 0.0  # no frames yet: the bar keeps the frame budget
    clock[0] = 30.0  # the workers' start-up
    trainer.counters["frames"] += 50_000  # the first frames, after it
    assert trainer.mean_fps() == 0.0  # the speed's clock starts here, not at the bar
    assert trainer._speed_from == (50_000, 30.0)
    clock[0] = 90.0  # one minute of training
    trainer.counters["frames"] = 50_000 + 600_000  # at 10,000 frames/s
    assert trainer.mean_fps() == 10_000
    totals = []
    for instant in (1_000.0, 200_000.0):  # the last interval's speed, far from the mean
        trainer.log_metrics(instant, bar)
        totals.append(bar.total)
    # 650 k frames done, 13.5 minutes left at 10,000 frames/s: 8.75 M, whatever the last
    # interval's speed
    assert totals == [650_000 + 10_000 * (15 * 60 - 90)] * 2
    bar.close()


# ---- the defaults: make train's speed and time limit (issue #32) ------------------------------


def test_a3c_defaults_are_make_trains_16_boards_and_15_minutes(capsys):
    from fw_rl.agents.config import PPOConfig, RunConfig
    from fw_rl.cli import parse_config

    config = A3CConfig()
    assert (config.envs_per_worker, config.max_minutes) == (16, 15.0)
    assert config.stop_at_return is None  # the return to stop at is the env's: no default
    # PPO and the run's own field keep no time limit
    assert PPOConfig().max_minutes == 0.0
    assert RunConfig.__dataclass_fields__["max_minutes"].default == 0.0
    # the field keeps its place among the run's settings (config.json's order)
    names = list(A3CConfig.__dataclass_fields__)
    assert names.index("total_frames") + 1 == names.index("max_minutes")
    with pytest.raises(SystemExit):
        parse_config(A3CConfig, "", ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(0 = no limit) (default: 15.0)" in help_text
    assert "(16 = make train's speed; 1 = classic A3C) (default: 16)" in help_text


def test_explicit_flags_override_the_defaults():
    from fw_rl.cli import parse_config

    config = parse_config(A3CConfig, "", ["--envs-per-worker", "1", "--max-minutes", "0"])
    assert (config.envs_per_worker, config.max_minutes) == (1, 0.0)
    config = parse_config(A3CConfig, "", ["--envs-per-worker=4", "--max-minutes=2.5"])
    assert (config.envs_per_worker, config.max_minutes) == (4, 2.5)


def test_make_train_asks_only_for_what_is_not_a_default():
    """make train = scripts/a3c.py's defaults and Catch-v0's return to stop at."""
    import re
    import shlex
    from pathlib import Path

    from fw_rl.cli import parse_config

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    (train_args,) = re.findall(r"^TRAIN_ARGS \?= (.*)$", makefile, flags=re.M)
    config = parse_config(A3CConfig, "", shlex.split(train_args))
    assert (config.workers, config.envs_per_worker, config.max_minutes) == (0, 16, 15.0)
    assert config.stop_at_return == 0.95


def test_a_saved_config_without_the_changed_fields_keeps_the_old_defaults(tmp_path):
    """A run saved without envs_per_worker or max_minutes (a config.json cut down by hand)
    ran with the defaults before issue #32: 1 board, no time limit, read back and resumed."""
    from fw_rl.agents.a3c.trainer import A3CTrainer
    from fw_rl.agents.config import PPOConfig

    full = A3CConfig(size=6, hidden_size=8, encoder_size=8, core="lstm", workers=1)
    old = {k: v for k, v in full.to_dict().items() if k not in ("envs_per_worker", "max_minutes")}
    config = A3CConfig.from_dict(old)
    assert (config.envs_per_worker, config.max_minutes) == (1, 0.0)
    kept = A3CConfig.from_dict({**old, "envs_per_worker": 4, "max_minutes": 30.0})
    assert (kept.envs_per_worker, kept.max_minutes) == (4, 30.0)  # what a run holds, it keeps
    ppo = {k: v for k, v in PPOConfig().to_dict().items() if k != "max_minutes"}
    assert PPOConfig.from_dict(ppo).max_minutes == 0.0
    # the command line's resume: the run's settings fill the flags not given, its missing
    # fields with their former defaults, and a flag given again wins
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(
        run / "checkpoint.pt",
        model_state=ActorCritic((6, 6), 3, "lstm", hidden_size=8, encoder_size=8).state_dict(),
        optimiser_state=None,
        counters={"frames": 0},
        config=old,
    )
    seen = []

    class Recorder(A3CTrainer):  # the command line up to the trainer, which only records
        def __init__(self, config, out=None, payload=None):
            seen.append(config)

        def train(self):
            return 0

    assert Recorder.main(A3CConfig, "", ["--resume", str(run)]) == 0
    assert Recorder.main(A3CConfig, "", ["--resume", str(run), "--max-minutes", "5"]) == 0
    assert [(c.envs_per_worker, c.max_minutes) for c in seen] == [(1, 0.0), (1, 5.0)]


def test_an_evaluation_plays_and_saves_one_set_of_weights_while_training_goes_on(
    tmp_path, monkeypatch
):
    """A3C's workers update the shared model during an evaluation (Hogwild): the score and
    best.pt must both be of the weights the evaluation started with."""
    import io

    import torch

    import fw_rl.agents.agent_run as agent_run
    from fw_rl.agents.algorithms import ALGORITHMS
    from fw_rl.agents.config import PPOConfig
    from fw_rl.checkpoint import load_checkpoint

    config = PPOConfig(num_envs=2, rollout_steps=8, minibatches=1, hidden_size=8,
                       encoder_size=8, run_dir=str(tmp_path / "run"), progress=False)  # fmt: skip
    trainer = ALGORITHMS["ppo"].trainer_class()(config, out=io.StringIO())
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    played = {}

    def evaluate_while_a_worker_writes(model, *args, **kwargs):
        with torch.no_grad():  # a worker's update lands mid-evaluation
            for p in trainer.model.parameters():
                p.add_(1.0)
        played.update({k: v.clone() for k, v in model.state_dict().items()})
        return {"mean_return": 0.5, "success_rate": 1.0, "capped": 0.0}

    monkeypatch.setattr(agent_run, "evaluate", evaluate_while_a_worker_writes)
    trainer.run_evaluation()
    best = load_checkpoint(tmp_path / "run" / "best.pt", kind="ppo")
    for name, value in before.items():
        assert torch.equal(played[name], value), name
        assert torch.equal(best["model"][name], value), name


def test_a_workers_failure_is_named_by_its_exceptions_first_line():
    """The stop reason quotes the exception (type and the start of its message), not the
    last line of a message that runs over several (a printed tensor's tail)."""
    import traceback

    from fw_rl.agents.a3c.trainer import exception_line

    try:
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("state for batch 2 must be\n  tensor([[0.12,\n  0.34]])") from None
    except ValueError:
        text = traceback.format_exc()
    assert exception_line(text) == "ValueError: state for batch 2 must be"
    assert exception_line("ValueError: " + "x" * 500).endswith("...")
    assert len(exception_line("ValueError: " + "x" * 500)) == 300


def test_stopping_a_pool_whose_workers_never_started_raises_nothing():
    """A worker that could not start (its core not picklable) is reported as itself, not
    as the cleanup's "can only join a started process"."""
    from fw_rl.agents.a3c.parallel import ProcessWorkerPool

    config = A3CConfig(size=6, hidden_size=8, encoder_size=8, core="lstm", workers=1)
    model = small_model()
    pool = ProcessWorkerPool(
        config, model, make_shared_optimiser("adam", model.parameters(), 0.01), 0
    )
    pool.stop(timeout=1.0)  # nothing started: nothing to join
