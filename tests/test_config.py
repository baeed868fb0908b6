import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import ROOT, TINY, tg, tiny_cfg

INT_KNOBS = [f.name.upper() for f in tg.Hyperparameters.knobs() if f.type == "int"]
FLOAT_KNOBS = [f.name.upper() for f in tg.Hyperparameters.knobs() if f.type == "float"]


def test_profile_follows_cuda_availability():
    cpu = tg.Hyperparameters.from_env(env={}, cuda=False)
    gpu = tg.Hyperparameters.from_env(env={}, cuda=True)
    assert cpu.config_profile == "cpu_sample" and "CUDA" in cpu.profile_reason
    assert gpu.config_profile == "competition" and gpu.model_dim == 768 and gpu.train_seq_len == 1024
    assert cpu.model_dim < gpu.model_dim and cpu.data_path.endswith("data/sample")
    assert tg.Hyperparameters.from_env(env={"CONFIG_PROFILE": "competition"}, cuda=False).model_dim == 768


def test_competition_profile_is_the_ternary_record_recipe_and_the_cpu_sample_keeps_its_measured_one():
    gpu = tg.Hyperparameters.from_env(env={}, cuda=True)
    record = dict(vocab_size=8192, embed_dim=254, unet_skips=True, muon_row_norm=True, muon_backend_steps=3, ternary_group=128,
                  qat_start_frac=0.0, warmdown_frac=0.2, num_heads=8, num_kv_heads=4, rope_base=5000.0, qk_gain_init=2.25,
                  logit_softcap=10.0, matrix_lr=0.04, tied_embed_lr=0.02, scalar_lr=0.02, eval_stride=16)
    assert {k: getattr(gpu, k) for k in record} == record
    assert gpu.data_path.endswith("fineweb10B_sp8192") and gpu.tokenizer_path.endswith("fineweb_8192_bpe.model")
    cpu = tg.Hyperparameters.from_env(env={}, cuda=False)
    assert (cpu.vocab_size, cpu.embed_dim, cpu.unet_skips, cpu.muon_row_norm, cpu.muon_backend_steps) == (1024, 0, False, False, 5)
    assert cpu.tokenizer_path.endswith("fineweb_1024_bpe.model")


@given(st.sampled_from(INT_KNOBS + FLOAT_KNOBS), st.sampled_from(["abc", "1.5.2", "ten", "--"]))
def test_unparsable_value_names_variable_and_value(name, raw):
    with pytest.raises(tg.ConfigError) as err:
        tg.Hyperparameters.from_env(env={**TINY, name: raw}, cuda=False)
    assert name in str(err.value) and raw in str(err.value)


@pytest.mark.parametrize("name,value", [
    ("QAT_START_FRAC", "1.5"), ("TTT", "always"), ("TERNARY_SCALE", "max"), ("TERNARY_LAYERS", "attn,emb"),
    ("MODEL_DIM", "33"), ("NUM_KV_HEADS", "3"), ("EVAL_STRIDE", "999"), ("TTT_PARAMS", "last:99"),
    ("PROGRESSIVE_LOSS_LOOPS", "1"), ("INT_BITS", "9"), ("SEED", "-1"), ("TTT_DOC_CHUNK", "999"), ("TTT", "chunk"),
    ("SDPA_BACKEND", "xformers"), ("AUTOCAST", "fp16"), ("MUON_DTYPE", "fp8"),
    ("TERNARY_GROUP", "5"), ("TIE_EMBEDDINGS", "yes"), ("ITERATIONS", "0"), ("BETA1", "1"), ("BETA2", "1.0"),
])
def test_invalid_setting_is_rejected_with_its_name(name, value):
    with pytest.raises(tg.ConfigError) as err:
        tiny_cfg(**{name: value})
    assert name in str(err.value)


def test_shared_blocks_and_num_layers_resolve_into_each_other():
    cfg = tiny_cfg(NUM_LAYERS=5, PRELUDE_LAYERS=1, CODA_LAYERS=1, LOOPS=3)
    assert cfg.shared_blocks == 3 and cfg.num_layers == 5
    cfg = tiny_cfg(PRELUDE_LAYERS=1, SHARED_BLOCKS=2, CODA_LAYERS=1, NUM_LAYERS="")
    assert cfg.num_layers == 4
    with pytest.raises(tg.ConfigError, match="NUM_LAYERS"):
        tiny_cfg(NUM_LAYERS=9, PRELUDE_LAYERS=1, SHARED_BLOCKS=2, CODA_LAYERS=1)


def test_import_does_no_work_even_with_bad_environment():
    env = {"MODEL_DIM": "not-a-number", "DATA_PATH": "/nonexistent", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import train_gpt"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_readme_documents_every_variable_with_its_current_default():
    sys.path.insert(0, str(ROOT / "tools"))
    import env_table

    readme = (ROOT / "README.md").read_text()
    assert env_table.block() in readme, "README's table is stale: run python tools/env_table.py --write"
    assert all(f"`{f.name.upper()}`" in env_table.table() for f in tg.Hyperparameters.knobs())


def test_readme_documents_every_log_line():
    import re

    source = (ROOT / "train_gpt.py").read_text()
    phases = {"final_roundtrip", "final_sliding", "final_ttt"}  # printed through f"{name} ..." in evaluate()
    assert all(f'"{p}"' in source for p in phases)
    prefixes = set(re.findall(r'log\(\s*f?"([a-z_ ]+?)[: ]', source)) | phases
    readme = (ROOT / "README.md").read_text()
    missing = sorted(p for p in prefixes if f"`{p}" not in readme)
    assert len(prefixes) >= 15 and not missing, missing


@pytest.mark.parametrize("name", ["TTT_CHUNK_TOKENS", "LOOP_INJECT", "TTT_OPTIMIZER", "TTT_PREFIX_TOKENS"])
def test_a_removed_variable_stops_the_run_instead_of_being_ignored(name):
    with pytest.raises(tg.ConfigError) as err:
        tiny_cfg(**{name: "1"})
    assert name in str(err.value) and "removed" in str(err.value)

