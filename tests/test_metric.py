import json
import math

import numpy as np
import pytest
import sentencepiece as spm
import torch
from hypothesis import given, strategies as st

from conftest import SAMPLE, SHARED_DATA, tg

DOCS = SHARED_DATA / "fineweb_val_prefix_docs.jsonl"
VAL = SHARED_DATA / "datasets" / "fineweb10B_sp1024_dev" / "fineweb_val_000000.bin"


@pytest.fixture(scope="module")
def tables():
    sp = spm.SentencePieceProcessor(model_file=str(SAMPLE / "fineweb_1024_bpe.model"))
    return tg.ByteTables.from_tokenizer(sp, 1024)


def test_byte_count_equals_utf8_length_of_every_complete_document(tables):
    docs = [json.loads(line) for line in DOCS.read_text().splitlines()]
    tokens = tg.load_shard(VAL, 1024).astype(np.int64)
    starts = list(np.flatnonzero(tokens == tg.BOS_ID)) + [len(tokens)]
    checked = 0
    for doc, (s, e) in zip(docs, zip(starts, starts[1:])):
        if not doc["complete"]:
            continue
        n_bytes = int(tables.target_bytes(torch.from_numpy(tokens[s:e])).sum())
        assert n_bytes == len(doc["text"].encode("utf-8")), doc["text"][:60]
        checked += 1
    assert checked >= 900


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


@given(st.floats(0.01, 1e6), st.integers(1, 10**7))
def test_bpb_is_bits_per_byte(nll_sum, n_bytes):
    assert math.isclose(tg.bpb(nll_sum, n_bytes) * n_bytes * math.log(2), nll_sum, rel_tol=1e-9)
