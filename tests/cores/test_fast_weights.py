"""The fast-weights RNN: the paper's equations, pinned by hand and by a plain reference."""

import numpy as np
import pytest
import torch

from fw_rl.cores import FastWeightsRNN
from fw_rl.cores.fast_weights import acting, kernel, predicted_us

# the three implementations: the matrix form as the compiled loop and as PyTorch's
# operations per step, and the attention form
FORMS = ["matrix", "matrix-pytorch", "attention"]


def make(form, *args, **kwargs):
    """A double-precision core computing with ``form`` (one of FORMS)."""
    mode = form.split("-")[0]
    core = FastWeightsRNN(*args, mode=mode, compiled=form != "matrix-pytorch", **kwargs)
    return core.double()


def hand_core(form):
    """H=2, I=1, no layer norm, S=1, lambda=0.5, eta=1, W=0.5 I, C=[[1],[2]], b=0."""
    core = make(form, 1, 2, inner_steps=1, decay=0.5, fast_lr=1.0, layer_norm=False)
    with torch.no_grad():
        core.slow.weight.copy_(0.5 * torch.eye(2))
        core.inp.weight.copy_(torch.tensor([[1.0], [2.0]]))
        core.inp.bias.zero_()
    return core


@pytest.mark.parametrize("form", FORMS)
def test_hand_computed_example(form):
    # x = 1, 0, 0 from h_0 = 0, A_0 = 0:
    # t=1: A_1 = 0.5*0 + h_0 h_0^T = 0;  z = C x = [1, 2];  h_1 = relu(z + A_1 h^0) = [1, 2]
    # t=2: A_2 = 0.5*0 + h_1 h_1^T = [[1, 2], [2, 4]];  z = W h_1 = [0.5, 1] = h^0
    #      A_2 h^0 = [2.5, 5];  h_2 = relu([0.5 + 2.5, 1 + 5]) = [3, 6]
    # t=3: A_3 = 0.5 A_2 + h_2 h_2^T = [[9.5, 19], [19, 38]];  z = W h_2 = [1.5, 3] = h^0
    #      A_3 h^0 = [71.25, 142.5];  h_3 = [72.75, 145.5]
    # (updating A one step late gives h_2 = [0.5, 1]; applying W to h^0 changes z.)
    core = hand_core(form)
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.double).view(3, 1, 1)
    out, (h, memory) = core(x)
    expected = torch.tensor([[1.0, 2.0], [3.0, 6.0], [72.75, 145.5]], dtype=torch.double)
    torch.testing.assert_close(out[:, 0], expected)
    torch.testing.assert_close(
        memory[0], torch.tensor([[9.5, 19.0], [19.0, 38.0]], dtype=torch.double)
    )


def test_read_before_write_variant_by_hand():
    # the order of some re-implementations: step t reads A_{t-1}, then writes h_{t-1}
    # t=1: read A_0 = 0; z = [1, 2]; h_1 = [1, 2]; write h_0 = 0: A_1 = 0
    # t=2: read A_1 = 0; z = W h_1 = [0.5, 1]; h_2 = [0.5, 1]; A_2 = h_1 h_1^T = [[1, 2], [2, 4]]
    # t=3: z = W h_2 = [0.25, 0.5] = h^0; A_2 h^0 = [1.25, 2.5]; h_3 = [1.5, 3]
    #      A_3 = 0.5 A_2 + h_2 h_2^T = [[0.75, 1.5], [1.5, 3]]
    core = make("matrix", 1, 2, inner_steps=1, decay=0.5, fast_lr=1.0, layer_norm=False,
                read_before_write=True)  # fmt: skip
    core.load_state_dict(hand_core("matrix").state_dict())
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.double).view(3, 1, 1)
    out, (h, memory) = core(x)
    expected = torch.tensor([[1.0, 2.0], [0.5, 1.0], [1.5, 3.0]], dtype=torch.double)
    torch.testing.assert_close(out[:, 0], expected)
    torch.testing.assert_close(memory[0], torch.tensor([[0.75, 1.5], [1.5, 3.0]]).double())
    assert core.choose_mode(3, 1) == "matrix" and not core.runs_compiled(3)


def test_separate_norms_variant_gives_h0_a_layer_norm_of_its_own():
    torch.manual_seed(0)
    paper = make("matrix-pytorch", 3, 5, inner_steps=2, norm_preliminary=True)
    variant = make("matrix-pytorch", 3, 5, inner_steps=2, norm_preliminary=True,
                   separate_norms=True)  # fmt: skip
    variant.load_state_dict({**paper.state_dict(), **{
        f"norm0.{k}": v for k, v in paper.norm.state_dict().items()}})  # fmt: skip
    x = torch.randn(6, 4, 3, dtype=torch.double)
    torch.testing.assert_close(variant(x)[0], paper(x)[0])  # the same gains: the same
    with torch.no_grad():
        variant.norm0.weight.mul_(3.0)
    assert not torch.allclose(variant(x)[0], paper(x)[0])
    (variant(x)[0].sum()).backward()
    assert variant.norm0.weight.grad is not None and variant.norm.weight.grad is not None
    with pytest.raises(ValueError, match="matrix form only"):
        FastWeightsRNN(3, 5, separate_norms=True, norm_preliminary=True, mode="attention")
    with pytest.raises(ValueError, match="needs layer_norm"):
        FastWeightsRNN(3, 5, separate_norms=True, norm_preliminary=False)
    with pytest.raises(ValueError, match="not the variants"):
        variant.forward_with_attention(x)


def test_fast_gain_variant_starts_as_the_slow_part_and_learns_how_much_to_read():
    """g = 0: the slow part alone (the same core with eta = 0); g = 1: the paper's core;
    the gradient reaches g at 0, so training can open the read; resets and acting steps
    (one step at a time) give the sequence call's outputs."""
    torch.manual_seed(0)
    paper = make("matrix-pytorch", 3, 5, inner_steps=1)
    variant = make("matrix", 3, 5, inner_steps=1, fast_gain=True)
    slow_part = make("matrix-pytorch", 3, 5, inner_steps=1, fast_lr=0.0)
    variant.load_state_dict({**paper.state_dict(), "gain": torch.zeros((), dtype=torch.double)})
    slow_part.load_state_dict(paper.state_dict())
    x = torch.randn(7, 4, 3, dtype=torch.double)
    reset = torch.zeros(7, 4, dtype=torch.bool)
    reset[3, 1] = True
    out, (_, memory) = variant(x, reset=reset)
    torch.testing.assert_close(out, slow_part(x, reset=reset)[0])
    h = out[:, 0].detach()  # A_7 of example 0 written as eq. 1, from the variant's states
    written = sum(0.95 ** (6 - t) * 0.5 * torch.outer(h[t - 1], h[t - 1]) for t in range(1, 7))
    torch.testing.assert_close(memory[0].detach(), written)
    out.sum().backward()
    assert variant.gain.grad is not None and variant.gain.grad.abs() > 0
    with torch.no_grad():
        variant.gain.fill_(1.0)
    torch.testing.assert_close(variant(x, reset=reset)[0], paper(x, reset=reset)[0])
    with torch.no_grad():  # g A_t is the read of a core with eta' = g eta
        variant.gain.fill_(0.5)
    half = make("matrix-pytorch", 3, 5, inner_steps=1, fast_lr=0.25)
    half.load_state_dict(paper.state_dict())
    torch.testing.assert_close(variant(x, reset=reset)[0], half(x, reset=reset)[0])
    with torch.no_grad():
        variant.gain.fill_(0.3)
    state, steps = None, []
    for t in range(7):  # acting: one step a call
        step, state = variant(x[t : t + 1], state, reset[t : t + 1])
        steps.append(step)
    torch.testing.assert_close(torch.cat(steps), variant(x, reset=reset)[0])
    assert variant.choose_mode(7, 4) == "matrix" and variant.runs_compiled(7)
    with pytest.raises(ValueError, match="matrix form only"):
        FastWeightsRNN(3, 5, fast_gain=True, mode="attention")
    with pytest.raises(ValueError, match="fast_gain must be true or false, got 1"):
        FastWeightsRNN(3, 5, fast_gain=1)


@pytest.mark.parametrize("read_gain", [0.0, 0.7])
@pytest.mark.parametrize("inner_steps", [1, 2])
def test_fast_gain_in_the_compiled_loop_equals_pytorch_and_passes_gradcheck(read_gain, inner_steps):
    """The compiled loop's read gain r (fast_gain's g): outputs, the fast memory and every
    gradient, g's included, equal PyTorch's matrix form; the hand-written backward passes
    gradcheck with resets and a carried memory, at g = 0 (where training starts) too."""
    torch.manual_seed(0)
    compiled = make("matrix", 2, 3, inner_steps=inner_steps, fast_gain=True)
    with torch.no_grad():
        compiled.gain.fill_(read_gain)
    plain = make("matrix-pytorch", 2, 3, inner_steps=inner_steps, fast_gain=True)
    plain.load_state_dict(compiled.state_dict())
    x = torch.randn(5, 2, 2, dtype=torch.double, requires_grad=True)
    h0 = torch.rand(2, 3, dtype=torch.double, requires_grad=True)
    a0 = (0.1 * torch.rand(2, 3, 3, dtype=torch.double)).requires_grad_()
    reset = torch.zeros(5, 2, dtype=torch.bool)
    reset[2, 0] = reset[4, 1] = reset[0, 1] = True  # at step 0: no gradient to h0, A0
    results = []
    for core in (compiled, plain):
        out, (_, memory) = core(x, state=(h0, a0), reset=reset)
        assert (backward_name(out) == "FastWeightsKernelBackward") == (core is compiled)
        inputs = (x, h0, a0, *core.parameters())
        grads = torch.autograd.grad((out**2).sum() + (memory**2).sum(), inputs)
        results.append((out, memory, grads))
    torch.testing.assert_close(results[0], results[1])
    names = [name for name, _ in compiled.named_parameters()]
    assert results[0][2][3 + names.index("gain")].abs() > 0  # the gradient reaches g
    grad_h0, grad_a0 = results[0][2][1:3]
    assert (grad_h0[1] == 0).all() and (grad_a0[1] == 0).all()
    # example 0's A0 is read before its reset at step 2 (and cleared there): only if g != 0
    assert (grad_a0[0].abs().sum() > 0) == (read_gain != 0)

    def run(x, h, a, *weights):
        kwargs = dict(state=(h, a), reset=reset)
        out, (_, memory) = torch.func.functional_call(
            compiled, dict(zip(names, weights)), x, kwargs
        )
        return out, memory

    weights = [p.detach().clone().requires_grad_() for p in compiled.parameters()]
    assert torch.autograd.gradcheck(run, (x, h0, a0, *weights))


def reference(core, x, reset=None):
    """A plain numpy loop over the equations, one example at a time."""
    p = {k: v.detach().numpy() for k, v in core.named_parameters()}
    steps, batch, _ = x.shape
    hidden = core.hidden_size
    out = np.zeros((steps, batch, hidden))

    def norm(v):
        if "norm.weight" not in p:
            return v
        v = (v - v.mean()) / np.sqrt(v.var() + 1e-5)
        return v * p["norm.weight"] + p["norm.bias"]

    for b in range(batch):
        h, memory = np.zeros(hidden), np.zeros((hidden, hidden))
        for t in range(steps):
            if reset is not None and reset[t, b]:
                h, memory = np.zeros(hidden), np.zeros((hidden, hidden))
            memory = core.decay * memory + core.fast_lr * np.outer(h, h)
            z = p["slow.weight"] @ h + p["inp.weight"] @ x[t, b].numpy() + p["inp.bias"]
            hs = np.maximum(norm(z) if core.norm_preliminary else z, 0)
            for _ in range(core.inner_steps):
                hs = np.maximum(norm(z + memory @ hs), 0)
            h = hs
            out[t, b] = h
    return out


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("inner_steps, norm_preliminary", [(1, True), (3, True), (2, False)])
def test_matches_plain_reference_with_layer_norm_and_resets(form, inner_steps, norm_preliminary):
    torch.manual_seed(1)
    core = make(form, 4, 6, inner_steps=inner_steps, norm_preliminary=norm_preliminary)
    with torch.no_grad():  # make gain and bias matter
        core.norm.weight.uniform_(0.5, 1.5)
        core.norm.bias.uniform_(-0.2, 0.2)
    x = torch.randn(7, 3, 4, dtype=torch.double)
    reset = torch.zeros(7, 3, dtype=torch.bool)
    reset[4, 0] = reset[2, 2] = True
    out, _ = core(x, reset=reset)
    np.testing.assert_allclose(
        out.detach().numpy(), reference(core, x, reset.numpy()), rtol=1e-9, atol=1e-9
    )


def test_layer_norm_is_over_hidden_units_not_batch():
    torch.manual_seed(0)
    core = FastWeightsRNN(3, 5).double()
    x = torch.randn(4, 6, 3, dtype=torch.double)
    out_all, _ = core(x)
    out_one, _ = core(x[:, 2:3])
    torch.testing.assert_close(out_all[:, 2:3], out_one)


@pytest.mark.parametrize(
    "steps, batch, hidden, inner", [(1, 1, 3, 1), (5, 2, 4, 1), (9, 3, 6, 2), (4, 2, 5, 3)]
)
def test_matrix_and_attention_agree_in_outputs_and_gradients(steps, batch, hidden, inner):
    torch.manual_seed(steps + hidden)
    cores = {}
    for form in FORMS:
        torch.manual_seed(0)
        cores[form] = make(form, 3, hidden, inner_steps=inner)
    x = torch.randn(steps, batch, 3, dtype=torch.double)
    reset = torch.rand(steps, batch) < 0.2
    h0 = torch.rand(batch, hidden, dtype=torch.double)
    a0 = torch.rand(batch, hidden, hidden, dtype=torch.double) * 0.1
    results = {}
    for form, core in cores.items():
        xs = x.clone().requires_grad_()
        state = (h0.clone().requires_grad_(), a0.clone().requires_grad_())
        out, (h, memory) = core(xs, state=state, reset=reset)
        loss = (out * torch.linspace(-1, 1, hidden, dtype=torch.double)).sum() + memory.sum() * 0.1
        grads = torch.autograd.grad(loss, [xs, *state, *core.parameters()])
        results[form] = [out, memory, *grads]
    for form in ("matrix", "attention"):
        for value, expected in zip(results[form], results["matrix-pytorch"]):
            torch.testing.assert_close(value, expected)


def test_compiled_loop_with_a_carried_memory_that_needs_no_gradient():
    # as in truncated backpropagation: the state comes in detached, only h asks for one
    grads = {}
    for form in ("matrix", "matrix-pytorch"):
        torch.manual_seed(0)
        core = make(form, 3, 4)
        state = (
            torch.rand(2, 4, dtype=torch.double).requires_grad_(),
            torch.rand(2, 4, 4).double(),
        )
        out, _ = core(torch.randn(5, 2, 3, dtype=torch.double), state)
        grads[form] = torch.autograd.grad(out.sum(), [state[0], *core.parameters()])
    for compiled, expected in zip(grads["matrix"], grads["matrix-pytorch"]):
        torch.testing.assert_close(compiled, expected)


def test_modes_agree_in_float32_over_a_long_sequence():
    # the hand-written backward passes accumulate over many steps: float32 must stay close
    cores = {}
    for form in FORMS:
        torch.manual_seed(0)
        cores[form] = make(form, 8, 32).float()
    x = torch.randn(60, 4, 8)
    reset = torch.zeros(60, 4, dtype=torch.bool)
    reset[30, 1] = True
    results = {}
    for form, core in cores.items():
        out, (_, memory) = core(x, reset=reset)
        (out.square().mean() + memory.mean()).backward()
        results[form] = [out, memory] + [p.grad for p in core.parameters()]
    for form in ("matrix", "attention"):
        for value, expected in zip(results[form], results["matrix-pytorch"]):
            torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_one_pass_memory_update_equals_pytorch(dtype, tolerance):
    torch.manual_seed(0)
    memory = torch.randn(3, 7, 7, dtype=dtype)
    h, query = torch.randn(3, 7, dtype=dtype), torch.randn(3, 7, dtype=dtype)
    with torch.no_grad():
        assert acting.fused_available(memory, h, query)  # numba is a dependency
        fused = acting.update_memory(memory, h, query, 0.9, 0.4)
    expected_memory = 0.9 * memory + 0.4 * h[:, :, None] * h[:, None, :]
    expected_read = torch.einsum("bij,bj->bi", expected_memory, query)
    torch.testing.assert_close(fused[0], expected_memory, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(fused[1], expected_read, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("numba_installed", [True, False])
def test_acting_without_gradients_equals_the_autograd_step(numba_installed, monkeypatch):
    # no_grad acting steps take the one-pass update (or PyTorch's without numba)
    if not numba_installed:
        monkeypatch.setattr(acting, "compiled_kernel", lambda: None)
    torch.manual_seed(0)
    core = FastWeightsRNN(3, 6, inner_steps=2, mode="matrix").double()
    state = (torch.rand(4, 6, dtype=torch.double), 0.1 * torch.rand(4, 6, 6, dtype=torch.double))
    x = torch.randn(5, 4, 3, dtype=torch.double)
    reset = torch.zeros(5, 4, dtype=torch.bool)
    reset[2, 1] = True
    expected, (_, expected_memory) = core(x, state, reset)  # autograd: PyTorch's update
    acting_state = state
    for t in range(5):
        with torch.no_grad():
            out, acting_state = core(x[t : t + 1], acting_state, reset[t : t + 1])
        torch.testing.assert_close(out[0], expected[t].detach())
    torch.testing.assert_close(acting_state[1], expected_memory.detach())


@pytest.mark.parametrize("form", FORMS)
def test_gradcheck(form):
    torch.manual_seed(0)
    core = make(form, 2, 3, inner_steps=2)
    x = torch.randn(4, 2, 2, dtype=torch.double, requires_grad=True)
    h0 = torch.rand(2, 3, dtype=torch.double, requires_grad=True)
    a0 = (0.1 * torch.rand(2, 3, 3, dtype=torch.double)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, h, a: core(x, state=(h, a))[0], (x, h0, a0))


@pytest.mark.parametrize(
    "options",
    [
        dict(inner_steps=1),
        dict(inner_steps=2, norm_preliminary=False),
        dict(inner_steps=1, layer_norm=False),
        dict(inner_steps=0),
    ],
)
@pytest.mark.parametrize("form", ["matrix", "attention"])
def test_hand_written_backward_gradcheck_with_resets_and_carried_memory(form, options):
    # the compiled loop's and the attention form's backward passes, through every branch
    torch.manual_seed(0)
    core = make(form, 2, 3, **options)
    x = torch.randn(5, 2, 2, dtype=torch.double, requires_grad=True)
    h0 = torch.rand(2, 3, dtype=torch.double, requires_grad=True)
    a0 = (0.1 * torch.rand(2, 3, 3, dtype=torch.double)).requires_grad_()
    reset = torch.zeros(5, 2, dtype=torch.bool)
    reset[2, 0] = reset[4, 1] = True
    names = [name for name, _ in core.named_parameters()]

    def run(x, h, a, *weights):  # the parameters as inputs, so they are checked too
        kwargs = dict(state=(h, a), reset=reset)
        out, (_, memory) = torch.func.functional_call(core, dict(zip(names, weights)), x, kwargs)
        return out, memory

    weights = [p.detach().clone().requires_grad_() for p in core.parameters()]
    assert torch.autograd.gradcheck(run, (x, h0, a0, *weights))


def test_training_after_inference_mode_call_of_the_same_length():
    # the attention form caches its decay tables by length: one made under inference
    # mode must still be usable by a later call that saves it for backward
    core = FastWeightsRNN(3, 4, mode="attention", decay=0.875)
    x = torch.randn(6, 2, 3)
    with torch.inference_mode():
        expected, _ = core(x)
    out, _ = core(x)
    out.sum().backward()
    torch.testing.assert_close(out.detach(), expected)
    assert core.slow.weight.grad is not None


def test_zero_fast_lr_is_a_layer_normalised_relu_rnn():
    torch.manual_seed(0)
    core = FastWeightsRNN(3, 5, fast_lr=0.0, inner_steps=2).double()
    x = torch.randn(6, 2, 3, dtype=torch.double)
    out, (_, memory) = core(x)
    h = torch.zeros(2, 5, dtype=torch.double)
    for t in range(6):
        h = torch.relu(core.norm(core.slow(h) + core.inp(x[t])))
        torch.testing.assert_close(out[t], h)
    assert not memory.any()


@pytest.mark.parametrize("mode", ["matrix", "attention"])
def test_attention_weights_reconstruct_the_fast_term(mode):
    # with S=1 the step attends with h^0 = relu(z) (the paper's); the fast term A_t h^0 is
    # sum_j attention[t, j] * h_j, and h_t = relu(LN(z + fast term))
    torch.manual_seed(3)
    core = FastWeightsRNN(3, 4, mode=mode).double()
    x = torch.randn(6, 2, 3, dtype=torch.double)
    out, _, attention = core.forward_with_attention(x)
    assert attention.shape == (6, 2, 6)
    for t in range(6):
        assert not attention[t, :, t:].any()
        h_prev = out[t - 1] if t else torch.zeros(2, 4, dtype=torch.double)
        z = core.slow(h_prev) + core.inp(x[t])
        fast = torch.einsum("bj,jbh->bh", attention[t, :, :t], out[:t])
        torch.testing.assert_close(out[t], torch.relu(core.norm(z + fast)))
    j, t = 1, 4
    query = torch.relu(core.slow(out[t - 1]) + core.inp(x[t]))
    expected = core.fast_lr * core.decay ** (t - 1 - j) * (out[j] * query).sum(-1)
    torch.testing.assert_close(attention[t, :, j], expected)


def test_auto_mode_picks_the_form_the_cost_model_predicts_faster():
    """The behaviour, whatever the fitted constants: one step is the matrix; T >= H is the
    matrix; otherwise the cheaper prediction; and for fixed T and batch the choice flips
    from the compiled matrix to attention at most once as H grows."""
    for batch in (1, 16, 128):
        for steps in (2, 11, 100):
            choices = []
            for hidden in (8, 16, 32, 64, 128, 256, 512):
                core = FastWeightsRNN(2, hidden)
                mode = core.choose_mode(steps, batch)
                if steps >= hidden:
                    assert mode == "matrix"
                    continue
                compiled = predicted_us("compiled", steps, batch, hidden)
                attention = predicted_us("attention", steps, batch, hidden)
                assert mode == ("matrix" if compiled <= attention else "attention")
                choices.append(mode)
            flips = sum(a != b for a, b in zip(choices, choices[1:]))
            assert flips <= 1 and (not flips or choices[0] == "matrix")
        assert FastWeightsRNN(2, 64).choose_mode(1, batch) == "matrix"  # one acting step
    # the two predictions grow as the forms' work does
    assert predicted_us("compiled", 11, 16, 128) > predicted_us("compiled", 11, 16, 64)
    assert predicted_us("attention", 100, 16, 64) > predicted_us("attention", 11, 16, 64)
    assert FastWeightsRNN(2, 20, mode="attention").choose_mode(11, 128) == "attention"


def test_auto_mode_without_the_compiled_loop_picks_attention_for_short_calls():
    core = FastWeightsRNN(2, 32, compiled=False)
    assert core.choose_mode(1, 8) == "matrix"  # a single acting step
    assert core.choose_mode(2, 8) == "attention" and core.choose_mode(256, 8) == "attention"
    assert core.choose_mode(257, 8) == "matrix"
    assert FastWeightsRNN(2, 32, mode="matrix", compiled=False).choose_mode(2, 8) == "matrix"


def backward_name(out):
    return type(out.grad_fn).__name__


def test_the_compiled_loop_runs_sequences_on_the_cpu_and_steps_stay_pytorch():
    core = FastWeightsRNN(3, 4, mode="matrix")
    x = torch.randn(5, 2, 3)
    assert core.runs_compiled(5, x)
    assert backward_name(core(x)[0]) == "FastWeightsKernelBackward"
    assert backward_name(core(x[:1])[0]) != "FastWeightsKernelBackward"  # one step
    off = FastWeightsRNN(3, 4, mode="matrix", compiled=False)
    assert not off.runs_compiled(5, x)
    assert backward_name(off(x)[0]) != "FastWeightsKernelBackward"


def test_the_compiled_loop_saves_no_h_by_h_memory_for_backward():
    # it recomputes the memories in the backward pass; PyTorch's matrix form saves them
    def saved_shapes(core):
        shapes = []
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: shapes.append(tuple(t.shape)) or t, lambda t: t
        ):
            core(torch.randn(4, 8, 3))
        return shapes

    memory_shape = (8, 16, 16)
    assert memory_shape not in saved_shapes(FastWeightsRNN(3, 16, mode="matrix"))
    assert memory_shape in saved_shapes(FastWeightsRNN(3, 16, mode="matrix", compiled=False))


@pytest.mark.parametrize("obstacle", ["no numba", "scratch too big"])
def test_the_matrix_form_falls_back_to_pytorch(obstacle, monkeypatch):
    if obstacle == "no numba":
        monkeypatch.setattr(kernel, "compile_loop", lambda function: None)
    else:  # 5 steps of a 4 x 4 float64 memory need 640 bytes
        monkeypatch.setattr(kernel, "SCRATCH_LIMIT_BYTES", 639)
    torch.manual_seed(0)
    core = FastWeightsRNN(3, 4, mode="matrix").double()
    x = torch.randn(5, 2, 3, dtype=torch.double)
    assert not core.runs_compiled(5, x)
    out, _ = core(x)
    assert backward_name(out) != "FastWeightsKernelBackward"
    monkeypatch.undo()
    assert core.runs_compiled(5, x)
    torch.testing.assert_close(out, core(x)[0])


def test_initialisation_follows_the_paper():
    core = FastWeightsRNN(7, 16)
    torch.testing.assert_close(core.slow.weight, 0.05 * torch.eye(16))
    assert core.inp.weight.abs().max() <= 1 / 4 and not core.inp.bias.any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mode="fast"), "mode must be one of"),
        (dict(decay=1.5), "decay"),
        (dict(fast_lr=-1.0), "fast_lr"),
        (dict(inner_steps=-1), "inner_steps"),
        (dict(compiled="yes"), "compiled must be True or False"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FastWeightsRNN(2, 3, **kwargs)
