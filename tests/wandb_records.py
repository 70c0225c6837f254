"""What a W&B offline run logged, read back from its transaction log (`run-<id>.wandb`) with wandb's own record
type (`wandb.proto.wandb_internal_pb2.Record`).

wandb 0.30 no longer ships a Python reader of the file (`wandb.sdk.internal.datastore` is gone); its format is
LevelDB's log, as wandb writes it: a 7-byte header (":W&B", magic 0xBEE1, version 0), then 32 KiB blocks of
chunks, each a 7-byte header (CRC-32C, length, type: full, first, middle, last) and its data; a block's last bytes
are padding when fewer than 7 are left. The CRCs are not checked.
"""

import struct
from pathlib import Path

from wandb.proto.wandb_internal_pb2 import Record

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Record]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<HB", data[4:7]) == (0xBEE1, 0), path
    out, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # padding up to the next block
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:  # zeroed tail
            break
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def offline_runs(wandb_dir: Path) -> dict[str, list[Record]]:
    """{run display name: its records} of every offline run under `wandb_dir` (a `wandb/` folder)."""
    runs = {}
    for path in sorted(Path(wandb_dir).glob("offline-run-*/run-*.wandb")):
        found = records(path)
        run = next(r.run for r in found if r.WhichOneof("record_type") == "run")
        runs[run.display_name] = found
    return runs


def history(found: list[Record]) -> dict[int, dict[str, str]]:
    """{step: {key: value as JSON}} of a run's logged history."""
    out: dict[int, dict[str, str]] = {}
    for r in found:
        if r.WhichOneof("record_type") == "history":
            items = {item.key or "/".join(item.nested_key): item.value_json for item in r.history.item}
            out.setdefault(r.history.step.num, {}).update(items)
    return out
