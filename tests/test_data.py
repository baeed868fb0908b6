import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from conftest import tg, tiny_cfg, write_shard

tokens_st = arrays(np.uint16, st.integers(0, 3000), elements=st.integers(0, 1023))


@given(tokens_st)
def test_shard_write_read_roundtrip(tmp_path_factory, tokens):
    path = tmp_path_factory.mktemp("shard") / "fineweb_train_000000.bin"
    write_shard(path, tokens)
    assert tg.shard_token_count(path) == len(tokens)
    np.testing.assert_array_equal(tg.load_shard(path, 1024), tokens)


@pytest.mark.parametrize("damage", ["magic", "version", "truncate", "extend"])
def test_corrupt_shard_is_rejected_with_its_path(tmp_path, damage):
    path = tmp_path / "fineweb_val_000000.bin"
    write_shard(path, np.arange(100, dtype=np.uint16))
    raw = bytearray(path.read_bytes())
    if damage == "magic":
        raw[0] ^= 0xFF
    elif damage == "version":
        raw[4] = 7
    elif damage == "truncate":
        raw = raw[:-10]
    else:
        raw += b"\0\0"
    path.write_bytes(bytes(raw))
    with pytest.raises(tg.DataError) as err:
        tg.load_shard(path, 1024)
    assert str(path) in str(err.value)


def test_token_outside_vocabulary_is_rejected(tmp_path):
    path = tmp_path / "fineweb_val_000000.bin"
    write_shard(path, np.array([1, 2, 900], dtype=np.uint16))
    with pytest.raises(tg.DataError, match="VOCAB_SIZE"):
        tg.load_shard(path, 512)


@pytest.mark.parametrize("vocab", [1024, 8192])
def test_missing_data_error_gives_the_download_command_for_the_vocabulary(tmp_path, vocab):
    cfg = tiny_cfg(DATA_PATH=str(tmp_path), VOCAB_SIZE=vocab, TOKENIZER_PATH=str(tmp_path / "none.model"))
    with pytest.raises(tg.DataError, match=f"cached_challenge_fineweb.py --variant sp{vocab}`"):
        tg.shard_files(cfg, "train")
    with pytest.raises(tg.DataError, match=f"cached_challenge_fineweb.py --variant sp{vocab}`"):
        tg.load_tokenizer(cfg)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 10**6))
def test_ranks_read_disjoint_slices_that_match_one_process(tmp_path_factory, seqs_per_rank, steps, seed):
    folder = tmp_path_factory.mktemp("d")
    rng = np.random.default_rng(seed)
    for i in range(2):
        write_shard(folder / f"fineweb_train_00000{i}.bin", rng.integers(0, 64, 97).astype(np.uint16))
    files = tg.shard_files(tiny_cfg(DATA_PATH=str(folder)), "train")
    cfg = tiny_cfg(TRAIN_SEQ_LEN=8)
    world = 2
    global_tokens = world * seqs_per_rank * 8
    single = tg.DistributedTokenLoader(files, cfg, tg.Context())
    ranks = [tg.DistributedTokenLoader(files, cfg, tg.Context(rank=r, world=world)) for r in range(world)]
    for _ in range(steps):
        x1, y1 = single.next_batch(global_tokens)
        parts = [loader.next_batch(global_tokens) for loader in ranks]
        assert torch.equal(torch.cat([p[0] for p in parts]), x1) and torch.equal(torch.cat([p[1] for p in parts]), y1)
        assert torch.equal(x1[:, 1:], y1[:, :-1])
