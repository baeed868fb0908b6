import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import ROOT, TINY, tg, tiny_cfg

INT_KNOBS = [f.name.upper() for f in tg.Hyperparameters.knobs() if type(f.default) is int]
FLOAT_KNOBS = [f.name.upper() for f in tg.Hyperparameters.knobs() if type(f.default) is float]


def test_profile_follows_cuda_availability():
    cpu = tg.Hyperparameters.from_env(env={}, cuda=False)
    gpu = tg.Hyperparameters.from_env(env={}, cuda=True)
    assert cpu.config_profile == "cpu_sample" and "CUDA" in cpu.profile_reason
    assert gpu.config_profile == "competition" and gpu.model_dim == 768 and gpu.train_seq_len == 1024
    assert cpu.model_dim < gpu.model_dim and cpu.data_path.endswith("data/sample")
    assert tg.Hyperparameters.from_env(env={"CONFIG_PROFILE": "competition"}, cuda=False).model_dim == 768


def test_competition_profile_is_the_ternary_record_recipe_with_the_adopted_changes_and_the_cpu_sample_keeps_its_own():
    gpu = tg.Hyperparameters.from_env(env={}, cuda=True)
    record = dict(vocab_size=8192, embed_dim=254, unet_skips=True, muon_row_norm=True, muon_backend_steps=3, ternary_group=128,
                  qat_start_frac=0.0, warmdown_frac=0.2, num_heads=8, num_kv_heads=4, rope_base=5000.0, qk_gain_init=2.25,
                  logit_softcap=10.0, matrix_lr=0.04, tied_embed_lr=0.02, scalar_lr=0.02)
    assert {k: getattr(gpu, k) for k in record} == record
    top_record_ttt = dict(ttt="doc", eval_stride=0, ttt_doc_chunk=48, ttt_lora_rank=80, ttt_lr=1e-4, ttt_beta1=0.0,
                          ttt_weight_decay=0.5)
    assert {k: getattr(gpu, k) for k in top_record_ttt} == top_record_ttt
    adopted = dict(num_layers=10, prelude_layers=4, coda_layers=4, loops=2, loop_start_frac=0.5, smear_gate=True,
                   parallel_layers=4, warmdown_floor=0.1, int_bits=8, embed_bits=8)  # docs/measurements.md: why each
    assert {k: getattr(gpu, k) for k in adopted} == adopted
    assert gpu.data_path.endswith("fineweb10B_sp8192") and gpu.tokenizer_path.endswith("fineweb_8192_bpe.model")
    cpu = tg.Hyperparameters.from_env(env={}, cuda=False)
    assert (cpu.vocab_size, cpu.embed_dim, cpu.unet_skips, cpu.muon_row_norm, cpu.muon_backend_steps) == (1024, 0, False, False, 5)
    assert (cpu.loops, cpu.prelude_layers, cpu.coda_layers, cpu.smear_gate, cpu.parallel_layers, cpu.warmdown_floor) == (1, 0, 0, False, 0, 0.0)
    assert cpu.tokenizer_path.endswith("fineweb_1024_bpe.model")


@given(st.sampled_from(INT_KNOBS + FLOAT_KNOBS), st.sampled_from(["abc", "1.5.2", "ten", "--"]))
def test_unparsable_value_names_variable_and_value(name, raw):
    with pytest.raises(tg.ConfigError) as err:
        tg.Hyperparameters.from_env(env={**TINY, name: raw}, cuda=False)
    assert name in str(err.value) and raw in str(err.value)


@pytest.mark.parametrize("name,value", [
    ("QAT_START_FRAC", "1.5"), ("TTT", "always"), ("TERNARY_SCALE", "max"), ("TERNARY_LAYERS", "attn,emb"),
    ("MODEL_DIM", "33"), ("NUM_KV_HEADS", "3"), ("EVAL_STRIDE", "999"), ("LOOP_START_FRAC", "1.5"),
    ("PROGRESSIVE_LOSS_LOOPS", "1"), ("PARALLEL_LAYERS", "99"), ("INT_BITS", "9"), ("SEED", "-1"), ("TTT_DOC_CHUNK", "999"), ("TTT", "chunk"),
    ("SDPA_BACKEND", "xformers"), ("AUTOCAST", "fp16"), ("MUON_DTYPE", "fp8"),
    ("TERNARY_GROUP", "5"), ("UNET_SKIPS", "yes"), ("ITERATIONS", "0"), ("BETA1", "1"), ("BETA2", "1.0"),
    ("GRAD_REDUCE_DTYPE", "fp16"), ("SYNC_EVERY", "0"), ("LOOP_START_FRAC", "0.5,0.65"),
])
def test_invalid_setting_is_rejected_with_its_name(name, value):
    with pytest.raises(tg.ConfigError) as err:
        tiny_cfg(**{name: value})
    assert name in str(err.value)


@given(st.integers(0, 3), st.integers(0, 3), st.integers(1, 6))
def test_the_shared_blocks_are_the_stored_blocks_between_prelude_and_coda(prelude, coda, num_layers):
    env = dict(NUM_LAYERS=num_layers, PRELUDE_LAYERS=prelude, CODA_LAYERS=coda)
    if num_layers <= prelude + coda:
        with pytest.raises(tg.ConfigError, match="NUM_LAYERS"):
            tiny_cfg(**env)
        return
    body = tg.RecurrentBlockGroup(tiny_cfg(**env))
    assert (len(body.prelude), len(body.shared), len(body.coda)) == (prelude, num_layers - prelude - coda, coda)


def test_import_does_no_work_even_with_bad_environment():
    env = {"MODEL_DIM": "not-a-number", "DATA_PATH": "/nonexistent", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import train_gpt"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_knob_parses_by_the_type_of_its_defaults():
    for f in tg.Hyperparameters.knobs():
        assert type(f.default) in (bool, int, float, str), f.name
        assert all(d is None or type(d) is type(f.default) for d in (f.metadata["cpu"], f.metadata["cuda"])), f.name


TYPO_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")


@given(st.sampled_from(tg.KNOB_NAMES), st.sampled_from(["delete", "insert", "replace", "swap"]), st.integers(0, 99), TYPO_CHARS)
def test_a_one_character_typo_of_any_knob_stops_the_run_with_the_suggestion(knob, edit, at, char):
    i = at % len(knob)
    typo = {"delete": knob[:i] + knob[i + 1:], "insert": knob[:i] + char + knob[i:], "replace": knob[:i] + char + knob[i + 1:],
            "swap": knob[:i] + knob[i + 1 : i + 2] + knob[i] + knob[i + 2:]}[edit]
    if typo in tg.KNOB_NAMES or not typo:
        return  # the edit gave a knob (BETA1 -> BETA2, a swap of two equal letters)
    with pytest.raises(tg.ConfigError) as err:
        tiny_cfg(**{typo: "1"})
    assert str(err.value).startswith(f"{typo} is not a variable of train_gpt.py; did you mean ")


ORDINARY = ["PATH", "HOME", "USER", "SHELL", "PWD", "LANG", "TERM", "TMPDIR", "HOSTNAME", "PYTHONPATH", "PYTHONUNBUFFERED",
            "VIRTUAL_ENV", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
            "ROLE_NAME", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
            "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_USE_AGENT_STORE", "TORCH_NCCL_ASYNC_ERROR_HANDLING", "NCCL_DEBUG",
            "NCCL_IB_DISABLE", "TORCH_LOGS", "TORCHINDUCTOR_CACHE_DIR", "HF_HOME", "MAX_JOBS", "OUT", "CI", "RUN_TAG",
            "HYPOTHESIS_PROFILE", "PYTEST_CURRENT_TEST", "DATA_PATH_1024", "COMPRESS_CODE", "NPROC", "CHALLENGE_REPO"]


@given(st.lists(st.sampled_from(ORDINARY), min_size=1, max_size=8))
def test_the_shells_and_torchruns_variables_pass(names):
    assert all(tg.refused_variable(name) is None for name in names)
    assert tiny_cfg(**dict.fromkeys(names, "1")).model_dim == int(TINY["MODEL_DIM"])


@pytest.mark.parametrize("name", ["TTT_EPOCHS", "TTT_PARAMS", "MUON_WD", "EMBED_LR", "TTT_CHUNK_TOKENS", "TERNARY_L1", "WARMDOWN_ITERS"])
def test_a_name_in_a_knob_familys_namespace_that_is_no_knob_stops_the_run(name):
    with pytest.raises(tg.ConfigError, match=f"^{name} is not a variable of train_gpt.py; did you mean "):
        tiny_cfg(**{name: "1"})


@given(st.sampled_from(sorted(tg.REMOVED)), st.sampled_from(["0", "1", "0.5", "attn"]))
def test_a_removed_knob_stops_the_run_and_says_it_was_removed(name, value):
    assert name not in tg.KNOB_NAMES
    with pytest.raises(tg.ConfigError, match=f"^{name} was removed from train_gpt.py"):
        tiny_cfg(**{name: value})
