"""Short clips of consecutive frames for training the P-frame model.

Two sources, drawn half and half:
  * real sequences from /work/shared/data: AIA 193 and 304 of the flare set
    (about 36 s, raw DN with the alternating exposures left in), EIT 195
    (hourly), SWAP 174 (about 2 min, 8-bit). AIA 171 stays held out.
  * synthetic clips from helio-synth (`helio-synth dataset --clips ...`,
    clips.npy [n, T, wavelengths, c, c] uint16 DN), all nine wavelengths,
    cadences 12 s to 6 min, a quarter of them with exposure changes.

Every clip is T frames of one c x c window at the same place, turned and
flipped together, sometimes played backwards (motion either way is motion).

With probability `p_xwl` a "clip" is instead one instant in T different
wavelengths (synthetic: any of the nine; real: AIA 193 and 304 of the flare
set): the same P networks then code a multispectral frame's channel from
another channel of the same frame (codec-core's X-frames, issue 9).
Intensities go through the codec's transform exactly as in models/data.py.
"""

import json
import os

import numpy as np

from models.data import DATA_DIR, DN_MAX, _read_folder, data_source, sqrt_transform, to_t

REAL_SEQUENCES = [
    ("aia", "aia-flare-20120719/193", "dn14", None),
    ("aia", "aia-flare-20120719/304", "dn14", None),
    ("eit", "eit-20040301", "u16", 195),
    ("swap", "swap174-20130612", "u8", None),
]


def load_real_sequences(data_dir=DATA_DIR):
    """[(group, kind, [raw frames], vmax)] in time order, one wavelength each."""
    seqs = []
    for group, folder, kind, wl in REAL_SEQUENCES:
        src = data_source(folder, data_dir)
        if src is None:
            # Without ../shared (a GPU machine): no EIT or SWAP sequences.
            print(f"clips: no {folder} in {data_dir} or the repo: trained without it", flush=True)
            continue
        root, folder = src
        frames = _read_folder(group, folder, kind, root)
        if wl is not None:
            meta = json.load(open(os.path.join(root, folder, "meta.json")))["frames"]
            frames = [f for f, m in zip(frames, meta) if m.get("wavelength") == wl]
        # One ceiling per sequence, as a stream has one bit depth.
        vmax = max(f["vmax"] for f in frames)
        seqs.append((group, kind, [f["raw"] for f in frames], vmax))
    return seqs


class ClipSampler:
    def __init__(self, synth_dir, T=3, crop=128, seed=0, p_synth=0.5, data_dir=DATA_DIR, p_xwl=0.0):
        self.T, self.crop, self.p_synth, self.p_xwl = T, crop, p_synth, p_xwl
        self.rng = np.random.default_rng(seed)
        self.real = load_real_sequences(data_dir)
        # Simultaneous AIA 193 / 304 frames (both 370 x 500), for wavelength pairs.
        aia = [frames for group, _, frames, _ in self.real if group == "aia"]
        self.real_xwl = list(zip(*aia)) if len(aia) >= 2 else []
        self.synth = np.load(os.path.join(synth_dir, "clips.npy"), mmap_mode="r")
        assert self.synth.shape[1] >= T and self.synth.shape[3] >= crop, self.synth.shape

    def _real(self):
        rng, T = self.rng, self.T
        group, kind, frames, vmax = self.real[rng.integers(len(self.real))]
        k = rng.integers(0, len(frames) - T + 1)
        raws = frames[k:k + T]
        if kind == "dn14":
            # One exposure scale for the whole clip: the alternation between
            # frames stays what the detector did.
            g = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
            raws = [np.minimum(r.astype(np.float64) * g, DN_MAX) for r in raws]
        return self._window(raws, kind, vmax)

    def _synthetic(self):
        rng, c, T = self.rng, self.crop, self.T
        n, L, nc, S, _ = self.synth.shape
        i, w, k = rng.integers(n), rng.integers(nc), rng.integers(0, L - T + 1)
        y0, x0 = rng.integers(0, S - c + 1), rng.integers(0, S - c + 1)
        raw = np.asarray(self.synth[i, k:k + T, w, y0:y0 + c, x0:x0 + c], dtype=np.float64)
        return sqrt_transform(raw, DN_MAX)

    def _window(self, raws, kind, vmax=DN_MAX):
        """[T, c, c]: one window, the same in every frame of `raws`, preferring
        structure as the crop sampler does; frames under c are mirror-padded."""
        rng, c = self.rng, self.crop
        H, W = raws[0].shape
        for _ in range(4):
            y0 = rng.integers(0, max(H - c, 0) + 1)
            x0 = rng.integers(0, max(W - c, 0) + 1)
            ts = [to_t(r[y0:y0 + c, x0:x0 + c], kind, vmax=vmax) for r in raws]
            if ts[0].std() > 0.03 or rng.random() < 0.25:
                break
        if ts[0].shape != (c, c):
            ph, pw = c - ts[0].shape[0], c - ts[0].shape[1]
            ts = [np.pad(t, ((0, ph), (0, pw)), mode="symmetric") for t in ts]
        return np.stack(ts)

    def _wavelengths(self):
        """One instant in T distinct wavelengths."""
        rng, c, T = self.rng, self.crop, self.T
        if self.real_xwl and rng.random() < 0.5:
            inst = self.real_xwl[rng.integers(len(self.real_xwl))]
            order = rng.permutation(len(inst))
            raws = [inst[order[k % len(inst)]] for k in range(T)]
            return self._window(raws, "dn14")
        n, L, nc, S, _ = self.synth.shape
        i, k = rng.integers(n), rng.integers(L)
        wls = rng.permutation(nc)[:T]
        y0, x0 = rng.integers(0, S - c + 1), rng.integers(0, S - c + 1)
        raw = np.asarray(self.synth[i, k, wls, y0:y0 + c, x0:x0 + c], dtype=np.float64)
        return sqrt_transform(raw, DN_MAX)

    def _one(self):
        rng = self.rng
        if rng.random() < self.p_xwl:
            clip = self._wavelengths()
        else:
            clip = self._synthetic() if rng.random() < self.p_synth else self._real()
        clip = np.rot90(clip, rng.integers(4), axes=(1, 2))
        if rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        if rng.random() < 0.5:
            clip = clip[::-1]
        return np.ascontiguousarray(clip, dtype=np.float32)

    def batch(self, n):
        """[T, n, 1, c, c]: frame-major, so clip[k] is one batch of frames."""
        return np.stack([self._one() for _ in range(n)], axis=1)[:, :, None]


def load_val_clip(data_dir=DATA_DIR, start=0, length=4):
    """Held-out AIA 171 frames start..start+length-1 as t arrays [H, W]."""
    root, folder = data_source("aia-flare-20120719/171", data_dir)
    frames = _read_folder("aia171", folder, "dn14", root)
    return [to_t(f["raw"], "dn14") for f in frames[start:start + length]]
