"""Profile one process's training step of train_gpt.py (plain configuration, 4 x 128, sp1024, 8192-token steps)."""
import os, sys, time, torch
sys.path.insert(0, sys.argv[1])
import train_gpt as tg
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
env = {"CONFIG_PROFILE": "cpu_sample", "TERNARY_LAYERS": "none", "LOOPS": "1", "TTT": "off", "EVAL_STRIDE": "0", "WARMUP_STEPS": "0",
       "NUM_LAYERS": "4", "MODEL_DIM": "128", "NUM_HEADS": "4", "NUM_KV_HEADS": "2", "MLP_MULT": "2", "TRAIN_SEQ_LEN": "1024",
       "TRAIN_BATCH_TOKENS": "8192", "GRAD_ACCUM_STEPS": "8", "COMPILE_WARMUP_STEPS": "0", "ITERATIONS": sys.argv[2], "MAX_WALLCLOCK_SECONDS": "0", "VAL_LOSS_EVERY": "0", "TRAIN_LOG_EVERY": "1000"}
cfg = tg.Hyperparameters.from_env(env=env, cuda=False)
torch.manual_seed(0)
model = tg.GPT(cfg)
if len(sys.argv) > 3:
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tg.train(model, cfg, tg.Dist(), None, lambda m: None)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
else:
    t = time.perf_counter(); tg.train(model, cfg, tg.Dist(), None, print); print("ms/step", 1000 * (time.perf_counter() - t) / cfg.iterations)
