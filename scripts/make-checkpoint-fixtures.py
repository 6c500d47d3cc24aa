#!/usr/bin/env python3
"""Writes the checkpoint fixtures of tests/fixtures/checkpoints with the real torch and
safetensors packages, then damaged copies of them. Run once with an interpreter that has
both (`python -m venv v && v/bin/pip install torch safetensors`); the output is committed.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "checkpoints")
good = os.path.join(out, "good")
bad = os.path.join(out, "damaged")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(good)
os.makedirs(bad)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
state = {k: v.contiguous() for k, v in model.state_dict().items()}

torch.save(state, os.path.join(good, "epoch_10.pth"))
torch.save({"model": state, "epoch": 10, "optimizer": {"lr": 0.01}}, os.path.join(good, "last.ckpt"))
torch.save(state, os.path.join(good, "pytorch_model.bin"))
torch.save(state, os.path.join(good, "legacy.pt"), _use_new_zipfile_serialization=False)
save_file(state, os.path.join(good, "model.safetensors"), metadata={"format": "pt"})
names = sorted(state)
shards = {"model-00001-of-00002.safetensors": names[:2], "model-00002-of-00002.safetensors": names[2:]}
weight_map = {}
for shard, keys in shards.items():
    save_file({k: state[k] for k in keys}, os.path.join(good, shard))
    weight_map.update({k: shard for k in keys})
with open(os.path.join(good, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": sum(v.numel() * 4 for v in state.values())}, "weight_map": weight_map}, f, indent=2)


def damaged(name, source, edit):
    data = bytearray(open(os.path.join(good, source), "rb").read())
    open(os.path.join(bad, name), "wb").write(edit(data))


damaged("truncated.pth", "epoch_10.pth", lambda d: d[: len(d) // 2])


def flip_in_tensor_data(d):
    # Flip one byte inside the first tensor record (archive/data/0): its CRC no longer matches.
    marker = d.find(b"data/0")
    start = marker + 6 + 64  # past the local header's name and extra field padding
    d[start] ^= 0xFF
    return d


damaged("flipped.pth", "epoch_10.pth", flip_in_tensor_data)
damaged("wrong_header_length.safetensors", "model.safetensors", lambda d: (len(d) * 2).to_bytes(8, "little") + d[8:])
damaged("truncated.safetensors", "model.safetensors", lambda d: d[:-10])
os.makedirs(os.path.join(bad, "missing-shard"))
shutil.copy(os.path.join(good, "model.safetensors.index.json"), os.path.join(bad, "missing-shard"))
shutil.copy(os.path.join(good, "model-00001-of-00002.safetensors"), os.path.join(bad, "missing-shard"))
print("fixtures written to", os.path.abspath(out))

# The deflated copies (deflated/) are made from good/epoch_10.pth by their own script.
import subprocess
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-deflated-fixtures.py"), out], check=True)
