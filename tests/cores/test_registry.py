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
