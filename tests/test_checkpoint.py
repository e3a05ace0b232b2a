"""Checkpoints: the core's identity recorded in full, old formats loaded into the equations
they were trained with, and a real full disk (ENOSPC from the operating system)."""

import dataclasses
import errno
import hashlib
import inspect
import json
from pathlib import Path

import pytest
import torch

import fw_rl.checkpoint as checkpoint_module
from fw_rl.agents.config import A3CConfig
from fw_rl.agents.model import build_model
from fw_rl.checkpoint import FORMAT, check_same_run, load_checkpoint, save_checkpoint
from fw_rl.cli import fields_with_role
from fw_rl.cores import CORES, make_core
from fw_rl.cores.identity import COMPUTE_OPTIONS, current_version, defaults, resolve_core
from fw_rl.tasks.classifier import SequenceClassifier
from fw_rl.tasks.training import SupervisedConfig, run_training

FIXTURES = Path(__file__).parent / "fixtures"


def test_a3c_checkpoint_of_format_1_loads_into_the_equations_it_was_trained_with(capsys):
    payload = load_checkpoint(FIXTURES / "a3c_format1.pt")
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "fw_rl/1" in note[0] and "version 1" in note[0]
    config = A3CConfig.from_dict(payload["config"])
    assert config.core_version == 1
    assert json.loads(config.core_options)["norm_preliminary"] is True
    model = build_model(config)
    model.load_state_dict(payload["model"])
    io = torch.load(FIXTURES / "a3c_format1_outputs.pt", weights_only=True)
    with torch.no_grad():
        logits, values, _ = model(io["obs"], None, io["reset"], io["actions"])
    # to rounding: the fixtures were computed on another machine, whose kernels may differ
    torch.testing.assert_close(logits, io["logits"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(values, io["values"], rtol=1e-5, atol=1e-6)
    # the test can fail: the same weights under today's default compute something else
    typed = {**payload["config"], "core_version": 0, "core_options": "{}"}  # as the user typed
    today = build_model(A3CConfig.from_dict(typed))
    today.load_state_dict(payload["model"])
    with torch.no_grad():
        other, _, _ = today(io["obs"], None, io["reset"], io["actions"])
    assert (other - io["logits"]).abs().max() > 1e-3


def test_supervised_checkpoint_of_format_1_loads_into_its_equations(capsys):
    payload = load_checkpoint(FIXTURES / "supervised_format1.pt", kind="supervised")
    assert "version 1" in capsys.readouterr().err
    config = SupervisedConfig(**payload["config"])
    model = SequenceClassifier(
        config.core, config.hidden, 10, vocabulary=37, embedding_size=6,
        core_options=config.core_kwargs,
    )  # fmt: skip
    model.load_state_dict(payload["model"])
    io = torch.load(FIXTURES / "supervised_format1_outputs.pt", weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(model(io["x"]), io["logits"], rtol=1e-5, atol=1e-6)


def test_a_run_records_its_core_resolved_and_a_default_change_never_matches():
    config = A3CConfig(core="fastweights", core_options='{"decay": 0.9, "mode": "matrix"}')
    saved = config.to_dict()
    assert saved["core_version"] == current_version("fastweights") == 2
    options = json.loads(saved["core_options"])
    assert options == {**defaults("fastweights", 2), "decay": 0.9}  # every model option
    assert json.loads(saved["core_compute"]) == {"mode": "matrix"}  # how, not what
    # a resume that asks for the same thing, typed differently, is the same run
    keys = fields_with_role(A3CConfig, "identity")
    same = A3CConfig(core_options=json.dumps({"decay": 0.9, "norm_preliminary": False}))
    check_same_run({"config": saved}, same.to_dict(), keys)
    # the old default's run (version 1) is not
    legacy = A3CConfig.from_dict({**saved, "core_version": 1, "core_options": '{"decay": 0.9}'})
    with pytest.raises(checkpoint_module.CheckpointError, match="core_options"):
        check_same_run({"config": saved}, legacy.to_dict(), keys)
    # another core is said alone (its options and version differ because of it)
    with pytest.raises(checkpoint_module.CheckpointError) as refused:
        check_same_run({"config": saved}, A3CConfig(core="gru").to_dict(), keys)
    assert str(refused.value).endswith("(core: checkpoint 'fastweights', asked 'gru')")


def test_a_run_recorded_before_an_option_existed_takes_its_versions_value(tmp_path):
    """fastweights' fast_gain came after version 2's runs: a checkpoint (or config.json)
    without it is read with fast_gain False, the value that computes what it ran, so it is
    the same run as today's resolution; one that chose another value is not."""
    from fw_rl.run_dir import read_config

    saved = A3CConfig(core="fastweights").to_dict()
    before = json.loads(saved["core_options"])
    del before["fast_gain"]  # as recorded before the option existed
    saved["core_options"] = json.dumps(before, sort_keys=True)
    model = build_model(A3CConfig(core="fastweights"))
    path = save_checkpoint(tmp_path / "checkpoint.pt", model_state=model.state_dict(),
                           optimiser_state=None, counters={"frames": 1}, config=saved,
                           kind="a3c")  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(saved))
    keys = fields_with_role(A3CConfig, "identity")
    payload = load_checkpoint(path)
    assert json.loads(payload["config"]["core_options"])["fast_gain"] is False
    check_same_run(payload, A3CConfig(core="fastweights").to_dict(), keys)
    assert json.loads(read_config(tmp_path)["core_options"])["fast_gain"] is False
    gained = A3CConfig(core="fastweights", core_options='{"fast_gain": true}').to_dict()
    with pytest.raises(checkpoint_module.CheckpointError, match="core_options"):
        check_same_run(payload, gained, keys)


def test_each_cores_newest_defaults_are_the_ones_its_constructor_uses():
    for name, cls in CORES.items():
        params = inspect.signature(cls.__init__).parameters
        taken = {
            k: p.default for k, p in params.items()
            if k not in ("self", "input_size", "hidden_size", *COMPUTE_OPTIONS)
        }  # fmt: skip
        assert taken == defaults(name, current_version(name)), name


def test_repr_of_the_fast_weights_core_shows_every_option():
    text = repr(make_core("fastweights", 3, 4, **resolve_core("fastweights", {}).kwargs()))
    for option in defaults("fastweights", 2):
        assert f"{option}=" in text, option


def test_an_unknown_core_version_is_a_clear_error():
    with pytest.raises(ValueError, match="has no version 7; its versions are"):
        A3CConfig(core_version=7)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def redirect_checkpoints_to_dev_full(monkeypatch):
    """Where no small filesystem can be mounted: every checkpoint written from now on
    goes to ``/dev/full``, whose writes fail with the operating system's ENOSPC."""
    real_open = open

    def open_full(path, mode="r", *args, **kwargs):
        if str(path).endswith(".pt.tmp"):
            return real_open("/dev/full", mode, *args, **kwargs)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "open", open_full, raising=False)


def test_save_checkpoint_on_a_full_disk_raises_enospc_and_leaves_no_partial_file(
    small_filesystem, tmp_path, monkeypatch
):
    folder = small_filesystem or tmp_path
    big = {"w": torch.zeros(512 * 1024)}  # 2 MiB: more than the filesystem holds
    if small_filesystem is None:
        redirect_checkpoints_to_dev_full(monkeypatch)
    with pytest.raises(OSError) as caught:
        save_checkpoint(folder / "c.pt", model_state=big, optimiser_state=None, counters={},
                        config={})  # fmt: skip
    assert caught.value.errno == errno.ENOSPC
    assert not (folder / "c.pt.tmp").exists() and not (folder / "c.pt").exists()


def test_a3c_run_on_a_full_disk_exits_4_in_one_line_keeping_its_last_checkpoint(
    small_filesystem, fill_filesystem, tmp_path, monkeypatch
):
    import io

    from fw_rl.agents.a3c.trainer import EXIT_WRITE_FAILED, A3CTrainer

    run = (small_filesystem or tmp_path) / "run"
    config = A3CConfig(
        size=6, hidden_size=16, encoder_size=16, workers=1, envs_per_worker=4,
        eval_episodes=20, total_frames=10_000_000, checkpoint_interval=0.5, log_interval=0.2,
        run_dir=str(run), progress=False, core="lstm",
    )  # fmt: skip
    out = io.StringIO()
    trainer = A3CTrainer(config, out=out)
    trainer.save()  # the last good checkpoint
    good = digest(run / "checkpoint.pt")
    if small_filesystem is None:
        redirect_checkpoints_to_dev_full(monkeypatch)
    else:
        fill_filesystem(run, leave=4096)
    assert trainer.train() == EXIT_WRITE_FAILED
    text = out.getvalue()
    assert "no space left on device" in text and "the last good one" in text
    assert "Traceback" not in text
    assert digest(run / "checkpoint.pt") == good
    assert not (run / "checkpoint.pt.tmp").exists()
    assert load_checkpoint(run)["format"] == FORMAT
    assert (run / "metrics.csv").read_text().startswith("frames,")  # the log is intact


def test_supervised_run_on_a_full_disk_exits_4_in_one_line_keeping_its_last_checkpoint(
    small_filesystem, fill_filesystem, tmp_path, monkeypatch, capsys
):
    from torch.utils.data import TensorDataset

    torch.manual_seed(0)
    x = torch.randint(0, 37, (256, 9))
    data = TensorDataset(x, x[:, 0] % 10)
    splits = {"train": data, "validation": data, "test": data}
    run = (small_filesystem or tmp_path) / "run"
    config = SupervisedConfig(hidden=32, updates=400, eval_interval=2, batch_size=32,
                              run_dir=str(run), progress=False)  # fmt: skip

    def build():
        return SequenceClassifier("fastweights", 32, 10, vocabulary=37,
                                  core_options=config.core_kwargs)  # fmt: skip

    calls = []
    real = checkpoint_module.save_checkpoint

    def full_after_first(path, **kwargs):  # the first checkpoint fits, no later one
        if Path(path).name == "checkpoint.pt" and calls:
            if small_filesystem is None:
                redirect_checkpoints_to_dev_full(monkeypatch)
            else:
                fill_filesystem(small_filesystem, leave=4096)
        if Path(path).name == "checkpoint.pt":
            calls.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr("fw_rl.run_session.save_checkpoint", full_after_first)
    assert run_training(build, splits, config, str(run)) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on device" in err[0], err
    assert len(calls) == 2 and not (run / "checkpoint.pt.tmp").exists()
    assert load_checkpoint(run, kind="supervised")["counters"]["update"] == 2  # the last good


def test_dataclass_fields_of_the_core_are_shared_by_both_trainers():
    names = {"core", "core_options", "core_version", "core_compute"}
    for cls in (A3CConfig, SupervisedConfig):
        assert names <= {f.name for f in dataclasses.fields(cls)}


def test_a_compute_option_given_two_values_is_refused_and_one_value_twice_is_not():
    with pytest.raises(ValueError, match="give compiled two values .True and False.: give it"):
        A3CConfig(core="gru", core_options='{"compiled": true}', core_compute='{"compiled": false}')
    config = A3CConfig(
        core="gru", core_options='{"compiled": false}', core_compute='{"compiled": false}'
    )
    assert json.loads(config.to_dict()["core_compute"]) == {"compiled": False}
