#!/usr/bin/env python3
"""Writes tests/fixtures/checkpoints/deflated/ from the committed torch.save fixture
good/epoch_10.pth: the same archive with every member deflate-compressed (as `zip` or a
repacking tool writes it; torch.load reads it), and a copy with one byte of the first tensor's
compressed data flipped. Needs only Python's zipfile; make-checkpoint-fixtures.py runs it.
"""
import os
import shutil
import sys
import zipfile

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "checkpoints")
source = os.path.join(root, "good", "epoch_10.pth")
out = os.path.join(root, "deflated")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
good = os.path.join(out, "epoch_10.pth")
with zipfile.ZipFile(source) as src, zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        member.compress_type = zipfile.ZIP_DEFLATED
        dst.writestr(member, src.read(info.filename))

data = bytearray(open(good, "rb").read())
with zipfile.ZipFile(good) as z:
    first = z.getinfo("epoch_10/data/0")
# The local header: 30 bytes, the name, the extra field; then the compressed data.
name_len = int.from_bytes(data[first.header_offset + 26:first.header_offset + 28], "little")
extra_len = int.from_bytes(data[first.header_offset + 28:first.header_offset + 30], "little")
start = first.header_offset + 30 + name_len + extra_len
data[start + first.compress_size // 2] ^= 0x01
open(os.path.join(out, "flipped.pth"), "wb").write(data)
print("deflated fixtures written to", os.path.abspath(out))
