"""fw_rl.run_dir: creating or refusing a run directory, the config and the CSV logs."""

import errno
import subprocess
import sys

import pytest

from fw_rl.run_dir import (
    CsvLog,
    Resumption,
    RunDirError,
    create_run_dir,
    describe_os_error,
    holds_a_run,
    lock_run_dir,
    read_config,
    unlock_run_dir,
    write_config,
)


def test_create_refuses_a_directory_holding_a_run_unless_resuming(tmp_path):
    run = create_run_dir(tmp_path / "a" / "b", resuming=False)
    assert run.is_dir() and list(run.iterdir()) == []  # the write probe is gone
    (run / "checkpoint.pt").write_bytes(b"x")
    with pytest.raises(RunDirError, match="already holds a run: pass --resume") as e:
        create_run_dir(run, resuming=False)
    assert "choose another --run-dir" in str(e.value) and e.value.held == run
    assert create_run_dir(run, resuming=True) == run


def test_a_folder_in_use_is_refused_to_another_process_until_released(tmp_path):
    """The lock marks a run's folder while it trains (released at the end, or by the
    process's death); this process may take its own folder again (a run of it that failed
    while being built has ended)."""
    other = [sys.executable, "-c", "import sys; from fw_rl.run_dir import lock_run_dir; "
             "lock_run_dir(sys.argv[1])", str(tmp_path)]  # fmt: skip
    lock_run_dir(tmp_path)
    try:
        refused = subprocess.run(other, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert "is in use by a run still training in another process" in refused.stderr
        lock_run_dir(tmp_path)  # this process again: kept, not refused
        refused = subprocess.run(other, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1  # and never released in between
    finally:
        unlock_run_dir(tmp_path)
    assert subprocess.run(other, capture_output=True, timeout=120).returncode == 0
    unlock_run_dir(tmp_path)  # nothing held: nothing to do


def test_create_refuses_to_overwrite_files_no_run_wrote(tmp_path):
    writes = ("config.json", "metrics.csv", "eval.csv")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"learning_rate": 1}')  # the user's own
    (mine / "metrics.csv").write_text("a,b\n")
    with pytest.raises(RunDirError, match="holds config.json, metrics.csv, not written by a run"):
        create_run_dir(mine, resuming=False, writes=writes)
    assert (mine / "config.json").read_text() == '{"learning_rate": 1}'
    # other files are not in the way (notes, the study runner's log), nor is a run's
    # leftover that ended before its first checkpoint (its config.json is a run's)
    (mine / "config.json").write_text('{"run_dir": "mine", "core": "gru"}')
    assert create_run_dir(mine, resuming=False, writes=writes) == mine
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.md").write_text("x")
    assert create_run_dir(notes, resuming=False, writes=writes) == notes


def test_a_run_dir_holding_a_run_is_named_in_the_callers_words(tmp_path):
    """The command line's flags, or the Python API's arguments (``fw_rl.A3C.learn``)."""
    run = tmp_path / "run"
    cli = str(holds_a_run(run))
    assert f"pass --resume {run} to continue it, or choose another --run-dir" in cli
    api = str(holds_a_run(run, api=True))
    assert f"continue it with fw_rl.load({str(run)!r}).learn(...)" in api
    assert "choose another learn(run_dir=...)" in api
    assert "--resume" not in api and "--run-dir" not in api
    assert holds_a_run(run, api=True).held == run


def test_create_names_what_is_wrong_in_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunDirError, match="cannot write the run directory .*file/run: ") as e:
        create_run_dir(tmp_path / "file" / "run", resuming=False)
    assert "\n" not in str(e.value)


def test_os_errors_in_words():
    assert describe_os_error(OSError(errno.ENOSPC, "x")) == "no space left on device"
    assert describe_os_error(OSError(errno.EACCES, "x")) == "permission denied"
    assert describe_os_error(OSError(errno.EROFS, "x")) == "read-only file system"


def test_config_round_trip(tmp_path):
    config = {"core": "lstm", "lr": 1e-3, "core_version": 1, "core_options": "{}"}
    write_config(tmp_path, config)
    assert read_config(tmp_path) == config
    assert not list(tmp_path.glob("*.tmp"))
    # a config of format 1 (no core_version) reads as version 1, every option resolved
    write_config(tmp_path, {"core": "fastweights", "core_options": '{"decay": 0.9}'})
    legacy = read_config(tmp_path)
    assert legacy["core_version"] == 1 and '"norm_preliminary": true' in legacy["core_options"]
    assert '"decay": 0.9' in legacy["core_options"]


def test_csv_log_appends_and_on_resume_drops_rows_after_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    log = CsvLog(path, ["frames", "value"])
    for frames in (100, 200, 300):
        log.write({"frames": frames, "value": frames / 3})
    assert [r["value"] for r in log.rows()] == ["33.3333", "66.6667", "100"]  # 6 digits
    resumed = CsvLog(path, ["frames", "value"], keep_up_to=200)  # checkpoint at 200
    assert [int(r["frames"]) for r in resumed.rows()] == [100, 200]
    resumed.write({"frames": 250, "value": 1.0})
    assert [int(r["frames"]) for r in resumed.rows()] == [100, 200, 250]
    fresh = CsvLog(path, ["frames", "value"])  # not resuming: starts afresh
    assert fresh.rows() == []
    other_key = CsvLog(tmp_path / "curve.csv", ["update", "error"])
    other_key.write({"update": 5, "error": 0.5})
    assert CsvLog(tmp_path / "curve.csv", ["update", "error"], 4, key="update").rows() == []


def test_resumption_reads_the_checkpoint_once_and_refuses_a_bad_one(tmp_path, capsys):
    from fw_rl.checkpoint import save_checkpoint

    save_checkpoint(
        tmp_path / "checkpoint.pt",
        model_state={},
        optimiser_state=None,
        counters={},
        config={"lr": 0.5},
        kind="supervised",
    )
    resumption = Resumption("supervised")
    assert resumption({"resume": ""}) is None and resumption.payload is None
    assert resumption({"resume": str(tmp_path)}) == {"lr": 0.5}
    assert resumption.payload["kind"] == "supervised"
    with pytest.raises(SystemExit) as stop:
        Resumption("a3c")({"resume": str(tmp_path)})
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "not 'a3c' (resume it with its task's script)" in error
