"""Writes the FITS test fixtures of helio-fits from the committed AIA 171 PNG frames.

astropy's tile compression is cfitsio's code, so these files are laid out as real
AIA level-1 files are (an empty primary HDU, then a RICE_1 BINTABLE of one tile per
row), plus the other layouts the reader accepts. Pixel rows are stored bottom row
first, the FITS convention, so a reader that flips them gets the PNG back.

    python3 -m venv /tmp/fitsvenv && /tmp/fitsvenv/bin/pip install astropy pillow
    /tmp/fitsvenv/bin/python fits/tests/make_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
from astropy.io import fits
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fits/tests/fixtures"
FULL = ROOT / "data/aia171-fits"


def dn(frame):
    return np.asarray(Image.open(ROOT / f"data/aia171/frame_{frame:02d}.png"), dtype=np.int32)


def aia_header(frame):
    meta = json.loads((ROOT / "data/aia171/meta.json").read_text())["frames"][frame]
    h = fits.Header()
    h["TELESCOP"] = "SDO/AIA"
    h["INSTRUME"] = "AIA_3"
    h["WAVELNTH"] = 171
    h["WAVEUNIT"] = "angstrom"
    h["DATE-OBS"] = meta["date_obs"]
    h["EXPTIME"] = meta["exptime_s"]
    h["BUNIT"] = "DN"
    return h


def compressed(data, name, **kw):
    hdu = fits.CompImageHDU(np.flipud(data), header=aia_header(0), **kw)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(FIX / name, overwrite=True)


def main():
    FIX.mkdir(parents=True, exist_ok=True)
    # 96 x 128 crop with loops and the limb in it; the tests compare against the same crop.
    crop = dn(0)[200:296, 150:278]
    i16 = crop.astype(np.int16)
    compressed(i16, "rice_rows.fits", compression_type="RICE_1", tile_shape=(1, 128))
    # Edge tiles are cut short: 40 does not divide 96 or 128.
    compressed(i16, "rice_tiles.fits", compression_type="RICE_1", tile_shape=(40, 40))
    compressed(i16, "gzip2.fits", compression_type="GZIP_2", tile_shape=(32, 128))
    compressed(crop.astype(np.int32) - 100, "gzip1_i32.fits", compression_type="GZIP_1")
    compressed((crop >> 6).astype(np.uint8), "rice_u8.fits", compression_type="RICE_1")
    # A flat patch makes the Rice coder's zero-entropy blocks; a noisy one its raw blocks.
    flat = i16.copy()
    flat[:, :64] = 1234
    flat[:8, 64:] = np.random.default_rng(1).integers(-32768, 32767, (8, 64))
    compressed(flat, "rice_extremes.fits", compression_type="RICE_1")
    # Uncompressed layouts: unsigned 16 bit (BZERO 32768), and float with a NaN.
    fits.PrimaryHDU(np.flipud(crop).astype(np.uint16), header=aia_header(0)).writeto(
        FIX / "u16.fits", overwrite=True)
    f32 = crop.astype(np.float32) / 4
    f32[0, 0] = np.nan
    fits.PrimaryHDU(np.flipud(f32)).writeto(FIX / "f32.fits", overwrite=True)
    # An image in the second extension, after a table.
    table = fits.BinTableHDU.from_columns([fits.Column(name="A", format="J", array=[1, 2])])
    fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(np.flipud(i16))]).writeto(
        FIX / "image_after_table.fits", overwrite=True)
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(FIX / "no_image.fits", overwrite=True)
    fits.PrimaryHDU(np.zeros((2, 4, 4), np.int16)).writeto(FIX / "cube.fits", overwrite=True)

    # Three full frames as AIA level-1 files, for the pipelines' FITS recipe.
    FULL.mkdir(exist_ok=True)
    for frame in range(3):
        hdu = fits.CompImageHDU(np.flipud(dn(frame).astype(np.int16)), header=aia_header(frame),
                                compression_type="RICE_1", tile_shape=(1, dn(frame).shape[1]))
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(FULL / f"frame_{frame:02d}.fits",
                                                       overwrite=True)


if __name__ == "__main__":
    main()
