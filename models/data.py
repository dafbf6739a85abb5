"""Training and validation data from the real solar frames in /work/shared/data.

Real frames only for now (a synthetic SDO-like generator is a later issue).
AIA 171 (`aia-flare-20120719/171`) is held out entirely for validation.

Intensity transform (must match codec-core's `intensity` module):
  * 14-bit DN (AIA): clamp DN to [0, 16383] and apply an Anscombe-like square
    root, t = (sqrt(DN + 3/8) - sqrt(3/8)) / (sqrt(16383 + 3/8) - sqrt(3/8)).
    Photon noise is ~sqrt(DN), so this makes noise roughly uniform over the
    range and MSE in t spends bits where they are visible and meaningful.
  * 8-bit display frames (SWAP folder): t = v / 255 (already display-scaled).
  * Other uint16 sources (EIT, singles; stored uint16 + a linear scale): the
    same square root on the stored values, with the frame's own ceiling in
    place of 16383: vmax = 2^b - 1 for the smallest bit depth b that holds the
    frame's maximum (65535 for most, 4095 for XRT and TRACE). That is exactly
    codec-core's `IntensityTransform::Sqrt.forward(v, b)`, i.e. what the codec
    computes when the stream is declared b bits deep. (The physical scale is
    kept in the metadata but not applied: the codec never sees it.)

Usage:
    python -m models.data pack            # writes models/pack/train.npz
    python -m models.data stats           # prints what would be trained on
"""

import argparse
import io
import json
import os
import sys

import numpy as np
from PIL import Image

DATA_DIR = "/work/shared/data"
PACK_PATH = "models/pack/train.npz"
DN_MAX = 16383.0
A = 0.375  # Anscombe offset 3/8

# (group, folder, kind) for the training set; AIA 171 is deliberately absent.
TRAIN_SOURCES = [
    ("aia", "aia-flare-20120719/193", "dn14"),
    ("aia", "aia-flare-20120719/304", "dn14"),
    ("swap", "swap174-20130612", "u8"),
    ("eit", "eit-20040301", "u16"),
    ("singles", "singles", "u16"),
]
VAL_SOURCE = ("aia171", "aia-flare-20120719/171", "dn14")
# The repo's copies (the same frames and meta.json, committed for users) of
# ../shared folders: a GPU machine gets the repo but not ../shared.
REPO_COPIES = {"aia-flare-20120719/171": "data/aia171", "aia-flare-20120719/193": "data/aia193",
               "aia-flare-20120719/304": "data/aia304"}


def data_source(folder, data_dir):
    """(root, folder) to read `folder` from: `data_dir`'s, else the repo's copy,
    else None."""
    if os.path.isdir(os.path.join(data_dir, folder)):
        return data_dir, folder
    copy = REPO_COPIES.get(folder)
    if copy and os.path.isdir(copy):
        return os.path.dirname(copy), os.path.basename(copy)
    return None

# How often each group is drawn. AIA is what the codec is for, so it gets
# half of the crops even though it is a minority of the pixels.
GROUP_WEIGHTS = {"aia": 0.5, "singles": 0.25, "swap": 0.15, "eit": 0.10}


def sqrt_transform(v, vmax):
    """Square-root (Anscombe-like) map of [0, vmax] onto [0, 1]."""
    v = np.clip(v, 0.0, vmax)
    return ((np.sqrt(v + A) - np.sqrt(A)) / (np.sqrt(vmax + A) - np.sqrt(A))).astype(np.float32)


def to_t(raw, kind, scale=1.0, offset=0.0, vmax=DN_MAX):
    """Stored samples -> network input t in [0, 1]."""
    raw = raw.astype(np.float64)
    if kind == "dn14":
        return sqrt_transform(raw, DN_MAX)
    if kind == "u8":
        return (raw / 255.0).astype(np.float32)
    if kind == "u16":
        return sqrt_transform(raw, vmax)
    raise ValueError(kind)


def _read_folder(group, folder, kind, data_dir):
    meta = json.load(open(os.path.join(data_dir, folder, "meta.json")))
    frames = []
    for fm in meta["frames"]:
        arr = np.array(Image.open(os.path.join(data_dir, folder, fm["file"])))
        scale, offset = float(fm.get("scale", 1.0)), float(fm.get("offset", 0.0))
        vmax = DN_MAX
        if kind == "u16":
            vmax = float(2 ** max(int(arr.max()).bit_length(), 8) - 1)
        frames.append(dict(name=f"{folder}/{fm['file']}", group=group, kind=kind, raw=arr,
                           scale=scale, offset=offset, vmax=vmax,
                           exptime=float(fm.get("exptime_s", fm.get("exptime", 0.0)) or 0.0)))
    return frames


PACK_FORMAT = 2  # bump when the frame metadata/transform changes


def load_train_frames(source=DATA_DIR):
    """Training frames from the data folder, or from a pack written by `pack`."""
    if source.endswith(".npz"):
        z = np.load(source, allow_pickle=False)
        assert int(z["format"]) == PACK_FORMAT, f"{source} is stale: rerun `python -m models.data pack`"
        metas = json.loads(str(z["meta"]))
        return [dict(m, raw=z[f"f{i}"]) for i, m in enumerate(metas)]
    frames = []
    for group, folder, kind in TRAIN_SOURCES:
        frames += _read_folder(group, folder, kind, source)
    return frames


def load_val_frames(data_dir=DATA_DIR, indices=None):
    """Held-out AIA 171 frames as t arrays [H, W] (no augmentation); from the
    repo's copy of the same 13 frames (data/aia171) where `data_dir` lacks them
    (a GPU machine, which gets the repo and the pack but not ../shared)."""
    group, folder, kind = VAL_SOURCE
    root, folder = data_source(folder, data_dir)
    frames = _read_folder(group, folder, kind, root)
    if indices is not None:
        frames = [frames[i] for i in indices]
    return [(f["name"], to_t(f["raw"], "dn14")) for f in frames]


class CropSampler:
    """Random augmented crops, biased toward crops with solar structure."""

    def __init__(self, frames, crop=128, seed=0, exposure_range=(0.2, 3.0)):
        self.frames, self.crop = frames, crop
        self.rng = np.random.default_rng(seed)
        self.exposure_range = exposure_range
        groups = sorted({f["group"] for f in frames})
        self.by_group = {g: [i for i, f in enumerate(frames) if f["group"] == g] for g in groups}
        w = np.array([GROUP_WEIGHTS.get(g, 0.1) for g in groups])
        self.groups, self.group_p = groups, w / w.sum()
        # Within a group, draw frames in proportion to their area.
        self.frame_p = {}
        for g, idx in self.by_group.items():
            a = np.array([frames[i]["raw"].size for i in idx], dtype=np.float64)
            self.frame_p[g] = a / a.sum()

    def _one(self):
        rng, c = self.rng, self.crop
        g = self.groups[rng.choice(len(self.groups), p=self.group_p)]
        f = self.frames[self.by_group[g][rng.choice(len(self.by_group[g]), p=self.frame_p[g])]]
        raw = f["raw"]
        # Off-disk background is most of many frames; reject flat crops most
        # of the time but not always, so the model still learns to code them
        # cheaply.
        for _ in range(4):
            H, W = raw.shape
            y0 = rng.integers(0, max(H - c, 0) + 1)
            x0 = rng.integers(0, max(W - c, 0) + 1)
            patch = raw[y0:y0 + c, x0:x0 + c].astype(np.float64)
            if f["kind"] == "dn14":
                # AIA alternates exposures: random gain in DN, saturating at
                # 16383 like the detector does.
                lo, hi = np.log(self.exposure_range[0]), np.log(self.exposure_range[1])
                patch = np.minimum(patch * np.exp(rng.uniform(lo, hi)), DN_MAX)
            t = to_t(patch, f["kind"], f["scale"], f["offset"], f["vmax"])
            if t.std() > 0.03 or rng.random() < 0.25:
                break
        if t.shape != (c, c):  # frames smaller than the crop (100 px, 128 px)
            ph, pw = c - t.shape[0], c - t.shape[1]
            t = np.pad(t, ((0, ph), (0, pw)), mode="symmetric")
        t = np.rot90(t, rng.integers(4))
        if rng.random() < 0.5:
            t = t[:, ::-1]
        return np.ascontiguousarray(t)

    def batch(self, n):
        return np.stack([self._one() for _ in range(n)])[:, None].astype(np.float32)


def batch_stream(frames, crop, batch, seed, workers=0):
    """Endless float32 tensors [batch, 1, crop, crop] of CropSampler crops.
    workers=0 cuts them in this process (the CPU runs' exact sequence for a
    seed); otherwise `workers` processes, each with its own seed, feed a GPU."""
    import torch
    if workers == 0:
        s = CropSampler(frames, crop, seed=seed)
        while True:
            yield torch.from_numpy(s.batch(batch))

    class Crops(torch.utils.data.IterableDataset):
        def __iter__(self):
            w = torch.utils.data.get_worker_info().id
            s = CropSampler(frames, crop, seed=seed * 1009 + w)
            while True:
                yield torch.from_numpy(s.batch(batch))

    yield from torch.utils.data.DataLoader(Crops(), batch_size=None, num_workers=workers,
                                           pin_memory=torch.cuda.is_available(), prefetch_factor=4,
                                           persistent_workers=True)


def pack(out=PACK_PATH, data_dir=DATA_DIR):
    """Write all training frames (native dtype) + metadata to one .npz."""
    frames = load_train_frames(data_dir)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    metas = [{k: v for k, v in f.items() if k != "raw"} for f in frames]
    arrays = {f"f{i}": f["raw"] for i, f in enumerate(frames)}
    np.savez_compressed(out, format=np.array(PACK_FORMAT), meta=np.array(json.dumps(metas)), **arrays)
    size = os.path.getsize(out)
    print(f"wrote {out}: {len(frames)} frames, {size / 2**20:.1f} MiB")
    assert size <= 48 * 2**20, "pack exceeds 48 MiB"


def stats(source=DATA_DIR):
    frames = load_train_frames(source)
    for f in frames:
        t = to_t(f["raw"], f["kind"], f["scale"], f["offset"], f["vmax"])
        print(f"{f['group']:8s} {f['name']:60s} {str(f['raw'].shape):12s} "
              f"t mean {t.mean():.3f} std {t.std():.3f}")
    s = CropSampler(frames, 128)
    b = s.batch(256)
    print("crop batch: mean %.3f std-per-crop median %.3f" % (b.mean(), np.median(b.std(axis=(1, 2, 3)))))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["pack", "stats"])
    ap.add_argument("--data", default=DATA_DIR)
    ap.add_argument("--out", default=PACK_PATH)
    a = ap.parse_args()
    pack(a.out, a.data) if a.cmd == "pack" else stats(a.data)
