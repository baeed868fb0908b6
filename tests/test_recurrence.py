import torch
from hypothesis import given, strategies as st

from conftest import TINY, tg, tiny_model

shapes = st.tuples(st.integers(0, 1), st.integers(1, 2), st.integers(2, 4), st.integers(0, 1))


def recurrent(seed, shape, **env):
    prelude, shared, loops, coda = shape
    return tiny_model(seed, PRELUDE_LAYERS=prelude, NUM_LAYERS=prelude + shared + coda, LOOPS=loops, CODA_LAYERS=coda, **env)


@given(shapes, st.integers(0, 20))
def test_each_shared_block_runs_exactly_loops_times(shape, seed):
    model, cfg = recurrent(seed, shape)
    calls = {}
    for i, block in enumerate(model.body.stored_blocks()):
        block.register_forward_hook(lambda m, a, o, i=i: calls.__setitem__(i, calls.get(i, 0) + 1))
    model.logits(torch.randint(0, 64, (1, 8)))
    expected = [1] * cfg.prelude_layers + [cfg.loops] * len(model.body.shared) + [1] * cfg.coda_layers
    assert [calls[i] for i in range(len(expected))] == expected


@given(shapes, st.integers(0, 20))
def test_a_different_x0_changes_the_output(shape, seed):
    model, _ = recurrent(seed, shape)
    x = torch.randn(1, 8, 32)
    rope = model.rope(8)
    with torch.no_grad():
        a, _ = model.body(x, x, rope, model.body.loops)
        b, _ = model.body(x, x + torch.randn_like(x), rope, model.body.loops)
    assert not torch.allclose(a, b)


@given(shapes, st.sets(st.integers(1, 4), max_size=3), st.integers(0, 20))
def test_progressive_losses_appear_exactly_at_the_listed_loops(shape, listed, seed):
    listed = sorted(v for v in listed if v <= shape[2])
    model, cfg = recurrent(seed, shape, PROGRESSIVE_LOSS_LOOPS=",".join(map(str, listed)), PROGRESSIVE_LOSS_WEIGHT=0.5)
    x, y = torch.randint(0, 64, (2, 8)), torch.randint(0, 64, (2, 8))
    seen = []
    original = model.head
    model.head = lambda h: (seen.append(h), original(h))[1]
    with torch.no_grad():
        loss = model(x, y)[0]
        assert len(seen) == 1 + len(listed)
        _, aux = model.hidden(x, collect=tuple(listed))
        expected = tg.cross_entropy(original(model.hidden(x)[0]), y) + sum(0.5 * tg.cross_entropy(original(h), y) for h in aux)
    assert torch.allclose(loss, expected)
    with torch.no_grad():
        assert torch.equal(model(x, y)[1], tg.cross_entropy(original(model.hidden(x)[0]), y))  # train_loss: plain CE
    assert cfg.aux_loops == tuple(listed)


@given(st.integers(1, 4), st.integers(0, 20))
def test_one_loop_without_prelude_or_coda_is_exactly_the_flat_model(layers, seed):
    model, _ = tiny_model(seed, NUM_LAYERS=layers, LOOPS=1)
    assert not any("loop" in n for n, _ in model.named_parameters())
    idx = torch.randint(0, 64, (2, 8))
    with torch.no_grad():
        x = tg.rms_norm(model.tok_emb(idx))
        x0, rope = x, model.rope(8)
        for block in model.body.shared:
            x = block(x, x0, rope)
        assert torch.equal(model.head(x), model.logits(idx))


@given(st.integers(1, 6), st.integers(0, 5))
def test_shared_weights_are_stored_once(loops, seed):
    model, cfg = tiny_model(seed, LOOPS=loops, NUM_LAYERS=2)
    bits = {"int": 6, "embed": 8, "side": 16}
    blob = tg.encode_artifact(model, cfg, bits).blob
    one_loop = tiny_model(seed, LOOPS=1, NUM_LAYERS=2)
    base = tg.encode_artifact(one_loop[0], one_loop[1], bits).blob
    assert abs(len(blob) - len(base)) < 600
    stored, effective = tg.count_params(model, cfg)
    shared = sum(p.numel() for p in model.body.shared.parameters())
    assert effective - stored == (loops - 1) * shared


def count_shared_passes(model):
    calls = []
    model.body.shared[0].register_forward_hook(lambda m, a, o: calls.append(1))
    return calls


@given(st.integers(1, 4), st.integers(0, 10))
def test_looping_adds_no_parameter_and_runs_the_shared_blocks_loops_times(loops, seed):
    model, _ = tiny_model(seed, LOOPS=loops, NUM_LAYERS=2, PRELUDE_LAYERS=1)
    flat, _ = tiny_model(seed, LOOPS=1, NUM_LAYERS=2, PRELUDE_LAYERS=1)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in flat.named_parameters()]
    calls = count_shared_passes(model)
    with torch.no_grad():
        model.logits(torch.randint(0, 64, (1, 8)))
    assert len(calls) == loops  # plain weight sharing: the same block, run LOOPS times


def test_late_loops_switch_on_at_their_fraction_and_evaluation_always_loops(tmp_path):
    from conftest import write_dataset

    data = write_dataset(tmp_path / "d", n_train=4000, n_val=200)
    cfg = tg.Hyperparameters.from_env(env={**TINY, "DATA_PATH": str(data), "VOCAB_SIZE": "1024", "ITERATIONS": "6",
                                           "MAX_WALLCLOCK_SECONDS": "0", "VAL_LOSS_EVERY": "0", "NUM_LAYERS": "3", "PRELUDE_LAYERS": "1",
                                           "CODA_LAYERS": "1", "LOOPS": "3", "LOOP_START_FRAC": "0.5",
                                           "PROGRESSIVE_LOSS_LOOPS": "2"}, cuda=False)
    torch.manual_seed(0)
    model = tg.GPT(cfg)
    calls, heads, log = count_shared_passes(model), [], []
    original = model.head
    model.head = lambda h: (heads.append(1), original(h))[1]
    per_step = []
    model.register_forward_hook(lambda m, a, o: per_step.append((len(calls), len(heads))))
    tg.train(model, cfg, tg.Context(), None, log.append)
    assert [line for line in log if line.startswith("loops_on")] == ["loops_on step:3 passes:3"]
    passes = [c - p[0] for c, p in zip([s[0] for s in per_step], [(0, 0)] + per_step)]
    heads_per_step = [h - p[1] for h, p in zip([s[1] for s in per_step], [(0, 0)] + per_step)]
    assert passes == [1, 1, 1, 3, 3, 3]
    assert heads_per_step == [1, 1, 1, 2, 2, 2]  # the progressive loss only once loops are on
    before = len(calls)
    with torch.no_grad():
        model.logits(torch.randint(0, 1024, (1, 8)))
    assert len(calls) - before == 3  # evaluation runs every loop whatever training did


def test_compiled_training_does_not_recompile_across_steps_loops_or_the_switches(monkeypatch):
    import torch._dynamo

    torch._dynamo.reset()
    model, cfg = tiny_model(1, LOOPS=3, NUM_LAYERS=2, PRELUDE_LAYERS=1, PROGRESSIVE_LOSS_LOOPS="1,2")
    compiled = torch.compile(model, backend="aot_eager", dynamic=False)
    x, y = torch.randint(0, 64, (2, 16)), torch.randint(0, 64, (2, 16))

    def step(qat, loops):
        tg.set_qat(model, qat)
        loss = compiled(x, y, loops)[0]
        loss.backward()
        return loss.item()

    for qat in (False, True):  # priming, as the compile warm-up does: every combination of switch states
        for loops in (1, 3):
            step(qat, loops)
    monkeypatch.setattr(torch._dynamo.config, "error_on_recompile", True)
    losses = [step(False, 1), step(False, 1), step(True, 1), step(True, 3), step(True, 3)]  # a recompile would raise
    assert losses[2] != losses[1] and losses[3] != losses[2]  # each switch changed the compiled forward
    with torch.no_grad():
        assert abs(model(x, y)[0].item() - losses[-1]) < 1e-4  # compiled == eager with loops and QAT on


@given(shapes, st.integers(0, 20))
def test_unet_skips_with_zero_weights_are_exactly_the_model_without_skips(shape, seed):
    with_skips, _ = recurrent(seed, shape, UNET_SKIPS=1)
    without, _ = recurrent(seed, shape, UNET_SKIPS=0)
    state = {n: t for n, t in with_skips.state_dict().items() if n != "body.skip_weights"}
    without.load_state_dict(state)
    idx = torch.randint(0, 64, (2, 8))
    with torch.no_grad():
        assert not torch.equal(with_skips.logits(idx), without.logits(idx))  # randomized weights: the skips matter
        with_skips.body.skip_weights.zero_()
        assert torch.equal(with_skips.logits(idx), without.logits(idx))


@given(shapes, st.integers(0, 20))
def test_unet_skips_pair_each_executed_block_with_its_mirror_even_when_fewer_loops_run(shape, seed):
    model, cfg = recurrent(seed, shape, UNET_SKIPS=1)
    full = cfg.prelude_layers + cfg.loops * len(model.body.shared) + cfg.coda_layers
    assert model.body.skip_weights.shape == (full // 2, cfg.model_dim)
    for loops in (1, cfg.loops):
        n = cfg.prelude_layers + loops * len(model.body.shared) + cfg.coda_layers
        inputs, outputs = [], []
        for block in model.body.stored_blocks():
            block.register_forward_hook(lambda m, a, o: inputs.append(a[0]) or outputs.append(o))  # returns None: keeps the output
        x = torch.randn(1, 8, cfg.model_dim)
        with torch.no_grad():
            model.body(x, x, model.rope(8), loops)
        for i in range(n - n // 2, n):  # block i's input = block i-1's output + skip_weights[n-1-i] * block (n-1-i)'s output
            expected = outputs[i - 1] + model.body.skip_weights[n - 1 - i] * outputs[n - 1 - i]
            assert torch.allclose(inputs[i], expected, atol=1e-6)
        for i in range(1, n - n // 2):
            assert torch.equal(inputs[i], outputs[i - 1])
        for block in model.body.stored_blocks():
            block._forward_hooks.clear()
