"""Properties every core shares, run through the registry with the same calling code."""

import pytest
import torch

from fw_rl.cores import (
    CORES,
    IRNNCore,
    UnknownCoreError,
    core_options,
    detach_state,
    make_core,
)

# every registered core at its defaults (a new core is covered as soon as it registers),
# and the variants that take another path through their code
CORE_SPECS = [(name, {}) for name in sorted(CORES)] + [
    ("fastweights", {"mode": "matrix"}),
    ("fastweights", {"mode": "attention"}),
    ("fastweights", {"inner_steps": 2}),
    ("alstm", {"copies": 1}),
]
IDS = [f"{name}-{'-'.join(map(str, opts.values())) or 'default'}" for name, opts in CORE_SPECS]


def build(name, options, batch_first=False):
    torch.manual_seed(0)
    return make_core(name, 3, 8, batch_first=batch_first, **options).double()


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_shapes_and_initial_state(name, options):
    core = build(name, options)
    x = torch.randn(5, 4, 3, dtype=torch.double)
    out, state = core(x)
    assert out.shape == (5, 4, 8)
    assert all(s.shape[0] == 4 for s in state)
    zero = core.initial_state(4)
    assert all(not s.any() for s in zero)
    out_zero, _ = core(x, state=zero)
    torch.testing.assert_close(out, out_zero)


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_split_sequence_equals_one_call(name, options):
    core = build(name, options)
    x = torch.randn(9, 3, 3, dtype=torch.double)
    out, state = core(x)
    first, mid = core(x[:4])
    second, end = core(x[4:], state=mid)
    torch.testing.assert_close(torch.cat([first, second]), out)
    for a, b in zip(state, end):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_one_step_at_a_time_equals_one_call_with_its_gradients(name, options):
    """Acting calls the core on one step at a time (the LSTM and the IRNN take a cell
    function there): the outputs, the final state and the weights' gradients are those of
    one call over the sequence, resets included."""
    core = build(name, options)
    x = torch.randn(7, 3, 3, dtype=torch.double)
    reset = torch.zeros(7, 3, dtype=torch.bool)
    reset[2, 0] = reset[3, 1] = reset[4, 1] = True  # a one-step episode in the middle
    start = tuple(s + 0.5 for s in core.initial_state(3))

    def outputs_and_grads(step_by_step: bool):
        core.zero_grad()
        if step_by_step:
            state, outs = start, []
            for t in range(7):
                out, state = core(x[t : t + 1], state=state, reset=reset[t : t + 1])
                outs.append(out)
            out = torch.cat(outs)
        else:
            out, state = core(x, state=start, reset=reset)
        (out.square().sum() + sum(s.sum() for s in state)).backward()
        return out, state, [p.grad.clone() for p in core.parameters() if p.grad is not None]

    whole, whole_state, whole_grads = outputs_and_grads(False)
    steps, steps_state, steps_grads = outputs_and_grads(True)
    torch.testing.assert_close(steps, whole)
    for a, b in zip(steps_state, whole_state):
        torch.testing.assert_close(a, b)
    assert len(steps_grads) == len(whole_grads) > 0
    for a, b in zip(steps_grads, whole_grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_reset_mask_equals_separate_calls_per_episode(name, options):
    core = build(name, options)
    x = torch.randn(10, 2, 3, dtype=torch.double)
    reset = torch.zeros(10, 2, dtype=torch.bool)
    reset[0] = True
    reset[6, 0] = reset[3, 1] = reset[7, 1] = True
    out, _ = core(x, state=tuple(s + 1.0 for s in core.initial_state(2)), reset=reset)
    for b, bounds in ((0, [0, 6, 10]), (1, [0, 3, 7, 10])):
        for start, end in zip(bounds[:-1], bounds[1:]):
            alone, _ = core(x[start:end, b : b + 1])
            torch.testing.assert_close(out[start:end, b : b + 1], alone)


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_batch_first_matches_time_major(name, options):
    x = torch.randn(6, 2, 3, dtype=torch.double)
    reset = torch.zeros(6, 2, dtype=torch.bool)
    reset[3, 1] = True
    out_t, _ = build(name, options)(x, reset=reset)
    out_b, _ = build(name, options, batch_first=True)(
        x.transpose(0, 1), reset=reset.transpose(0, 1)
    )
    torch.testing.assert_close(out_b.transpose(0, 1), out_t)


@pytest.mark.parametrize("name, options", CORE_SPECS, ids=IDS)
def test_detach_state_cuts_the_graph(name, options):
    core = build(name, options)
    x = torch.randn(3, 2, 3, dtype=torch.double, requires_grad=True)
    _, state = core(x)
    assert any(s.requires_grad for s in state)
    detached = detach_state(state)
    assert not any(s.requires_grad for s in detached)
    out, _ = core(torch.randn(2, 2, 3, dtype=torch.double), state=detached)
    out.sum().backward()
    assert x.grad is None


@pytest.mark.parametrize("name", sorted(CORES))
def test_bad_inputs_raise_clear_errors(name):
    core = make_core(name, 3, 8)
    with pytest.raises(ValueError, match=r"\[T, B, input\] with input=3"):
        core(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="3-D"):
        core(torch.randn(5, 3))
    with pytest.raises(ValueError, match="state for batch 2 must have shapes"):
        core(torch.randn(5, 2, 3), state=make_core(name, 3, 10).initial_state(2))
    with pytest.raises(ValueError, match="reset must have shape"):
        core(torch.randn(5, 2, 3), reset=torch.zeros(2, 5, dtype=torch.bool))


def test_registry_lists_what_exists():
    with pytest.raises(UnknownCoreError, match="available: alstm, fastweights, gru, irnn, lstm"):
        make_core("transformer", 3, 8)
    with pytest.raises(UnknownCoreError, match="its options are: .*decay"):
        make_core("fastweights", 3, 8, deacy=0.9)
    assert "mode" in core_options("fastweights") and core_options("lstm") == ["batch_first"]


def test_irnn_starts_from_identity():
    core = IRNNCore(3, 5)
    torch.testing.assert_close(core.rnn.weight_hh_l0, torch.eye(5))
    assert core.rnn.weight_ih_l0.abs().max() < 0.01
