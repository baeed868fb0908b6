import json
import math

import numpy as np
import pytest
import sentencepiece as spm
import torch
from hypothesis import given, strategies as st

from conftest import SAMPLE, tg

DOCS = SAMPLE / "fineweb_val_000000_docs.jsonl"  # the sample's documents, decoded (data/sample/README)
VAL = SAMPLE / "fineweb_val_000000.bin"
MIN_COMPLETE_DOCS = 53  # what the shipped 65,536-token sample holds


@pytest.fixture(scope="module")
def tables():
    sp = spm.SentencePieceProcessor(model_file=str(SAMPLE / "fineweb_1024_bpe.model"))
    return tg.ByteTables.from_tokenizer(sp, 1024)


def test_byte_count_equals_utf8_length_of_every_complete_document(tables):
    docs = [json.loads(line) for line in DOCS.open(encoding="utf-8")]
    tokens = tg.load_shard(VAL, 1024).astype(np.int64)
    starts = list(np.flatnonzero(tokens == tg.BOS_ID)) + [len(tokens)]
    assert starts[0] == 0 and len(docs) == len(starts) - 1  # one line per BOS-delimited document
    checked = 0
    for doc, (s, e) in zip(docs, zip(starts, starts[1:])):
        assert doc["n_tokens"] == e - s - 1  # BOS + the document's tokens
        if not doc["complete"]:
            continue
        n_bytes = int(tables.target_bytes(torch.from_numpy(tokens[s:e])).sum())
        assert n_bytes == len(doc["text"].encode("utf-8")), doc["text"][:60]
        checked += 1
    assert checked == sum(doc["complete"] for doc in docs) >= MIN_COMPLETE_DOCS


def test_boundary_and_byte_pieces_follow_the_challenge_rules(tables):
    sp = spm.SentencePieceProcessor(model_file=str(SAMPLE / "fineweb_1024_bpe.model"))
    for i in range(sp.vocab_size()):
        if sp.is_control(i) or sp.is_unknown(i):
            assert tables.is_boundary[i] and tables.base_bytes[i] == 0
        elif sp.is_byte(i):
            assert tables.base_bytes[i] == 1 and not tables.has_leading_space[i]
    space = next(i for i in range(sp.vocab_size()) if sp.id_to_piece(i).startswith("\u2581") and len(sp.id_to_piece(i)) > 1)
    after_bos = tables.target_bytes(torch.tensor([tg.BOS_ID, space]))
    after_word = tables.target_bytes(torch.tensor([space, space]))
    assert after_word.item() == after_bos.item() + 1


@given(st.lists(st.floats(0.0, 30.0), min_size=1, max_size=40), st.integers(1, 8))
def test_eval_stats_are_mean_nats_and_bits_per_byte(nlls, bytes_per_target):
    from types import SimpleNamespace

    nll = torch.tensor(nlls, dtype=torch.float32)
    data = SimpleNamespace(target_bytes=torch.full((len(nlls),), bytes_per_target))
    loss, bpb = tg.eval_stats(nll, data)
    total = float(nll.double().sum())
    assert math.isclose(loss, total / len(nlls), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(bpb * bytes_per_target * len(nlls) * math.log(2), total, rel_tol=1e-9, abs_tol=1e-12)
