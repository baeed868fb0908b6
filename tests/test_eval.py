import time

import torch
from hypothesis import given, strategies as st

from conftest import eval_data, tg, tiny_cfg, tiny_model

MODES = ["plain", "sliding", "doc"]


def score(model, cfg, tokens, mode, log=None):
    data, scorer = eval_data(tokens), tg.scorer(model, cfg, tg.Context(), compiled=False)
    deadline = time.perf_counter() + cfg.eval_budget_seconds
    log = log if log is not None else (lambda msg: None)
    if mode == "plain":
        return tg.score_stream(scorer, data, cfg.eval_seq_len, cfg.eval_seq_len, cfg, tg.Context())
    if mode == "sliding":
        return tg.score_stream(scorer, data, cfg.eval_seq_len, cfg.eval_stride, cfg, tg.Context())
    return tg.eval_ttt_doc(model, scorer, data, cfg, tg.Context(), deadline, log)


@given(st.integers(1, 400), st.integers(1, 64), st.data())
def test_every_target_is_scored_exactly_once_with_bounded_windows(n, seq_len, data):
    stride = data.draw(st.integers(1, seq_len))
    chunk = data.draw(st.integers(1, 5)) * seq_len
    for a0 in range(0, n, chunk):
        a1 = min(n, a0 + chunk)
        windows = tg.plan_windows(a0, a1, seq_len, stride)
        covered = [t for _, a, b in windows for t in range(a, b)]
        assert covered == list(range(a0, a1))
        for start, a, b in windows:
            assert 0 <= start <= a < b and b - start <= seq_len
            assert b - start == min(b, seq_len)  # as much left context as the window allows


@given(st.integers(1, 6), st.integers(0, 20))
def test_stride_equal_to_sequence_length_gives_the_non_overlapping_loss(blocks, seed):
    model, cfg = tiny_model(seed)
    tokens = torch.randint(0, 64, (blocks * cfg.eval_seq_len + 1,), generator=torch.Generator().manual_seed(seed))
    nll = score(model, cfg, tokens, "plain")
    x, y = tokens[:-1].view(blocks, -1), tokens[1:].view(blocks, -1)
    with torch.no_grad():
        direct = tg.cross_entropy(model.logits(x), y, reduction="none")
    assert torch.allclose(nll, direct, atol=1e-5)


@given(st.sampled_from(MODES + ["doc_competition"]), st.integers(2, 90), st.integers(0, 10**6))
def test_a_score_depends_only_on_tokens_up_to_its_target(mode, q, seed):
    """The legality property: changing token q leaves every target before q unchanged. doc_competition: doc TTT
    with the competition's optimizer (AdamW with beta1 0 and weight decay) and an adapter on the head's projection."""
    competition = dict(TTT_BETA1=0.0, TTT_BETA2=0.99, TTT_WEIGHT_DECAY=0.5, TTT_DOC_BATCH=2, EMBED_DIM=8)
    model, cfg = tiny_model(seed % 7, **{"TTT_LR": 0.05, "TTT_DOC_CHUNK": 6, "TTT_DOC_BATCH": 3, "EVAL_STRIDE": 4,
                                         **(competition if mode == "doc_competition" else {})})
    mode = mode.removesuffix("_competition")
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, 64, (97,), generator=g)
    tokens[torch.randint(0, 97, (6,), generator=g)] = tg.BOS_ID
    changed = tokens.clone()
    changed[q] = (tokens[q] + 1 + torch.randint(0, 60, (1,), generator=g)) % 64
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = score(model, cfg, tokens, mode)
    model.load_state_dict(state)
    after = score(model, cfg, changed, mode)
    # Target t predicts token t + 1: targets 0..q-2 predict tokens before q.
    assert torch.equal(before[: q - 1], after[: q - 1]), mode
    assert not torch.equal(before[q - 1 :], after[q - 1 :])  # the change is seen where it may be


def test_ttt_adapts_a_reloaded_model_after_a_no_grad_evaluation():
    model, cfg = tiny_model(2, TTT_LR=0.05)
    blob = tg.encode_artifact(model, cfg, {"int": 6, "embed": 8, "side": 16}).blob
    config, state = tg.decode_artifact(blob)
    reloaded = tg.GPT(cfg)
    reloaded.load_state_dict(state)
    tg.set_qat(reloaded, False)
    tokens = torch.randint(2, 64, (129,), generator=torch.Generator().manual_seed(0))
    tokens[0] = tg.BOS_ID  # one document
    with torch.inference_mode():
        score(reloaded, cfg, tokens, "sliding")
    plain = score(reloaded, cfg, tokens, "plain")
    adapted = score(reloaded, cfg, tokens, "doc")
    first = cfg.ttt_doc_chunk
    assert torch.allclose(adapted[:first], plain[:first], atol=1e-5)  # the first chunk is scored before any step
    assert not torch.allclose(adapted[first:], plain[first:], atol=1e-3)


def test_budget_stops_adapting_but_scores_every_target():
    model, cfg = tiny_model(4, TTT_LR=0.05, EVAL_BUDGET_SECONDS=1e-9, TTT_DOC_CHUNK=16)
    tokens = torch.randint(2, 64, (129,), generator=torch.Generator().manual_seed(1))
    tokens[0] = tg.BOS_ID
    logs = []
    plain = score(model, cfg, tokens, "plain")
    stopped = score(model, cfg, tokens, "doc", logs.append)
    assert logs == ["ttt_stopped doc:0 reason:budget"]
    assert torch.allclose(stopped, plain, atol=1e-5) and (stopped > 0).all()


@given(st.integers(0, 5), st.sampled_from([0, 8]))
def test_ttt_adapts_every_block_linear_and_the_heads_projection_and_leaves_the_weights_alone(seed, embed_dim):
    model, cfg = tiny_model(seed, TTT="doc", TTT_LR=0.05, EMBED_DIM=embed_dim)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    adapters = tg.attach_lora(model, cfg, 2)
    linears = [m for b in model.body.stored_blocks() for m in b.modules() if isinstance(m, tg.CastedLinear)]
    adapted = linears + ([model.embed_out] if embed_dim else [])
    assert all(m.lora is not None for m in adapted) and len(adapters) == 2 * len(adapted)
    assert model.embed_in is None or model.embed_in.lora is None
    tg.detach_lora(model)
    assert all(m.lora is None for m in model.modules() if isinstance(m, tg.CastedLinear))
    assert all(p.requires_grad for p in model.parameters())
    score(model, cfg, torch.randint(0, 64, (129,), generator=torch.Generator().manual_seed(seed)), "doc")
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


@given(st.integers(1, 12), st.integers(1, 4), st.integers(0, 30))
def test_each_ttt_window_holds_its_chunk_after_the_documents_earlier_tokens_alone(chunk_mult, width_div, j):
    """Chunk j's window starts at the document's BOS or ends at the chunk: every position before the chunk is
    the document's own and none after it is scored; two widths at most, so two compiled graphs."""
    cfg = tiny_cfg(TTT_DOC_CHUNK=chunk_mult * 2, TRAIN_SEQ_LEN=32, EVAL_SEQ_LEN=24 * width_div + 24)
    if cfg.ttt_doc_chunk > cfg.eval_seq_len:
        return
    width, start, offset = tg.ttt_window(j, cfg)
    assert width in tg.ttt_widths(cfg) and len(tg.ttt_widths(cfg)) <= 2
    assert offset + cfg.ttt_doc_chunk <= width and start + offset == j * cfg.ttt_doc_chunk
    assert start == 0 or offset + cfg.ttt_doc_chunk == width  # from the BOS, or ending at the chunk
    assert width - offset - cfg.ttt_doc_chunk < width  # a chunk never scored past the window


def test_the_head_runs_on_the_scored_positions_alone():
    model, cfg = tiny_model(3, EVAL_STRIDE=4)
    tokens = torch.randint(2, 64, (70,), generator=torch.Generator().manual_seed(3))
    rows = []
    original = model.head
    model.head = lambda h: (rows.append(h.shape[1]), original(h))[1]
    sliding = score(model, cfg, tokens, "sliding")
    assert set(rows) == {cfg.eval_seq_len, cfg.eval_stride}  # the stream's first window, then each stride's tail
    model.head = original
    with torch.no_grad():
        for start, a, b in tg.plan_windows(0, 69, cfg.eval_seq_len, 4):
            full = tg.cross_entropy(model.logits(tokens[start:b][None]), tokens[start + 1 : b + 1][None], reduction="none")
            assert torch.allclose(sliding[a:b], full[a - start :], atol=1e-5)


@given(st.integers(1, 16), st.integers(0, 20), st.integers(20, 70))
def test_sliding_score_is_the_last_position_of_the_targets_own_context(stride, seed, n):
    model, cfg = tiny_model(seed, EVAL_STRIDE=stride)
    tokens = torch.randint(0, 64, (n + 1,), generator=torch.Generator().manual_seed(seed))
    nll = tg.score_stream(tg.scorer(model, cfg, tg.Context(), False), eval_data(tokens), cfg.eval_seq_len, stride, cfg, tg.Context())
    with torch.no_grad():
        for start, a, b in tg.plan_windows(0, n, cfg.eval_seq_len, stride):
            for t in range(a, b):
                last = model.logits(tokens[start : t + 1][None])[0, -1]
                assert torch.allclose(nll[t], tg.cross_entropy(last[None], tokens[t + 1 : t + 2]), atol=1e-5)
