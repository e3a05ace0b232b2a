"""``python -m fw_rl.cores``: the registered cores, their options and versions."""


def test_the_core_listing_keeps_how_a_core_computes_apart_from_its_options():
    from fw_rl.cores.__main__ import describe

    text = describe()
    fast = text.split("fastweights:")[1].split("\ngru:")[0]
    options = next(line for line in fast.splitlines() if "--core-options" in line)
    compute = next(line for line in fast.splitlines() if "--core-compute" in line)
    assert "decay" in options and "mode" not in options and "compiled" not in options
    assert "mode" in compute and "compiled" in compute
    assert "gru: " in text and "version 2 (newest)" in fast


def test_warm_up_compiles_every_core_that_declares_kernels_and_bad_arguments_exit_2():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "fw_rl.cores", "--warm-up"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    named = {line.split(":")[0] for line in done.stdout.splitlines()}
    assert named == {"alstm", "fastweights", "gru"}  # those with a warm_up, and only those
    wrong = subprocess.run(
        [sys.executable, "-m", "fw_rl.cores", "--warmup"], capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "--warm-up" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    helped = subprocess.run(
        [sys.executable, "-m", "fw_rl.cores", "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--warm-up compiles" in helped.stdout
