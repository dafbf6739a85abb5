// SPDX-License-Identifier: MPL-2.0

//! heliofitsdec: FITS files (AIA level-1 layout, RICE_1 tiles) into GRAY16_LE,
//! checked against the PNG frames they were made from, through the ways users feed
//! files (multifilesrc, filesrc in small chunks, concatenated files, decodebin), and
//! its errors.

mod common;

use common::{TempDir, launch_collect as run, workspace};

fn aia_fits(frame: usize) -> String {
    workspace().join(format!("data/aia171-fits/frame_{frame:02}.fits")).display().to_string()
}

fn fixture(name: &str) -> String {
    workspace().join("fits/tests/fixtures").join(name).display().to_string()
}

/// DN of data/aia171/frame_NN.png through pngdec (an independent reader).
fn png_dn(frame: usize) -> Vec<u16> {
    let png = workspace().join(format!("data/aia171/frame_{frame:02}.png"));
    let (bufs, _, res) = run(&format!(
        "filesrc location=\"{}\" ! pngdec ! videoconvert ! video/x-raw,format=GRAY16_LE \
         ! fakesink name=sink",
        png.display()
    ));
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    samples16(&bufs[0])
}

/// The samples of a GRAY16_LE frame `height` rows high, without the row padding
/// GStreamer adds (rows are 4-byte aligned: 371 pixels take 744 bytes).
fn rows16(buffer: &gst::Buffer, width: usize, height: usize) -> Vec<u16> {
    let map = buffer.map_readable().unwrap();
    let stride = map.len() / height;
    assert!(stride >= 2 * width && map.len() % height == 0, "{} bytes for {height} rows", map.len());
    map.chunks_exact(stride)
        .flat_map(|row| row[..2 * width].chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])))
        .collect()
}

/// The 371 x 501 AIA frames and the 128 x 96 fixtures.
fn samples16(buffer: &gst::Buffer) -> Vec<u16> {
    match buffer.size() {
        n if n == 744 * 501 => rows16(buffer, 371, 501),
        n if n == 256 * 96 => rows16(buffer, 128, 96),
        n => panic!("unexpected frame of {n} bytes"),
    }
}

fn size(caps: &gst::Caps) -> (i32, i32) {
    let s = caps.structure(0).unwrap();
    (s.get("width").unwrap(), s.get("height").unwrap())
}

#[test]
fn aia_level1_files_decode_to_the_original_dn() {
    let dir = workspace().join("data/aia171-fits");
    let (bufs, caps, res) = run(&format!(
        "multifilesrc location=\"{}/frame_%02d.fits\" stop-index=2 caps=\"image/fits,framerate=1/1\" \
         ! heliofitsdec ! fakesink name=sink",
        dir.display()
    ));
    assert!(res.eos && res.errors.is_empty() && res.warnings.is_empty(), "{res:?}");
    let caps = caps.unwrap();
    assert_eq!(size(&caps), (371, 501));
    assert_eq!(caps.structure(0).unwrap().get::<&str>("format").unwrap(), "GRAY16_LE");
    assert_eq!(bufs.len(), 3);
    for (i, buf) in bufs.iter().enumerate() {
        assert_eq!(samples16(buf), png_dn(i), "frame {i}");
        assert_eq!(buf.pts(), Some(gst::ClockTime::from_seconds(i as u64)));
    }
}

#[test]
fn small_chunks_concatenated_files_and_decodebin() {
    // Two files in one byte stream, read 1000 bytes at a time.
    let tmp = TempDir::new("fits-concat");
    let both = tmp.path().join("both.fits");
    let bytes = [std::fs::read(aia_fits(0)).unwrap(), std::fs::read(aia_fits(1)).unwrap()].concat();
    std::fs::write(&both, bytes).unwrap();
    let (bufs, _, res) = run(&format!(
        "filesrc location=\"{}\" blocksize=1000 ! heliofitsdec ! fakesink name=sink",
        both.display()
    ));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    assert_eq!(bufs.len(), 2);
    assert_eq!(samples16(&bufs[1]), png_dn(1));

    // The typefinder lets decodebin find heliofitsdec.
    let (bufs, _, res) = run(&format!(
        "filesrc location=\"{}\" ! decodebin ! fakesink name=sink",
        aia_fits(2)
    ));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    assert_eq!(samples16(&bufs[0]), png_dn(2));
}

#[test]
fn flip_scale_and_clipping_warning() {
    let unflipped = run(&format!(
        "filesrc location=\"{}\" ! heliofitsdec flip=false ! fakesink name=sink",
        fixture("u16.fits")
    ));
    let flipped = run(&format!(
        "filesrc location=\"{}\" ! heliofitsdec ! fakesink name=sink",
        fixture("u16.fits")
    ));
    let (a, b) = (samples16(&unflipped.0[0]), samples16(&flipped.0[0]));
    assert_eq!(size(unflipped.1.as_ref().unwrap()), (128, 96));
    assert_eq!(&a[..128], &b[95 * 128..], "first stored row is the last output row");
    assert_ne!(a, b);

    // DN above 65 x 1000 overflow 16 bits: clamped, with one warning naming the properties.
    let (bufs, _, res) = run(&format!(
        "filesrc location=\"{}\" ! heliofitsdec scale=1000 offset=-100 ! fakesink name=sink",
        fixture("u16.fits")
    ));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    let out = samples16(&bufs[0]);
    for (o, x) in out.iter().zip(&b) {
        assert_eq!(*o as f64, (*x as f64 * 1000.0 - 100.0).clamp(0.0, 65535.0));
    }
    assert_eq!(res.warnings.len(), 1, "{res:?}");
    assert!(res.warnings[0].contains("clamped") && res.warnings[0].contains("scale"), "{res:?}");
}

#[test]
fn bad_files_are_errors_naming_the_problem() {
    let tmp = TempDir::new("fits-bad");
    let err = |path: &str| {
        let (bufs, _, res) = run(&format!("filesrc location=\"{path}\" ! heliofitsdec ! fakesink name=sink"));
        assert!(bufs.is_empty());
        assert_eq!(res.errors.len(), 1, "{res:?}");
        res.errors[0].clone()
    };
    let e = err(&fixture("no_image.fits"));
    assert!(e.contains("no 2-D image") && e.contains("BINTABLE"), "{e}");
    let e = err(&fixture("cube.fits"));
    assert!(e.contains("cube"), "{e}");

    let truncated = tmp.path().join("cut.fits");
    let whole = std::fs::read(aia_fits(0)).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let e = err(truncated.to_str().unwrap());
    assert!(e.contains("truncated"), "{e}");

    let png = workspace().join("data/aia171/frame_00.png");
    let e = err(png.to_str().unwrap());
    assert!(e.contains("not a FITS file"), "{e}");
}

#[test]
fn max_errors_skips_a_cut_file_and_goes_on() {
    // multifilesrc files: 0 whole, 1 cut in half, 2 whole. The cut is found where
    // file 2 starts; with max-errors=1 file 1 is skipped with a warning.
    let tmp = TempDir::new("fits-skip");
    for i in 0..3 {
        let mut bytes = std::fs::read(aia_fits(i)).unwrap();
        if i == 1 {
            bytes.truncate(bytes.len() / 2);
        }
        std::fs::write(tmp.path().join(format!("f_{i}.fits")), bytes).unwrap();
    }
    let (bufs, _, res) = run(&format!(
        "multifilesrc location=\"{}/f_%d.fits\" stop-index=2 caps=image/fits \
         ! heliofitsdec max-errors=1 ! fakesink name=sink",
        tmp.path().display()
    ));
    assert!(res.eos && res.errors.is_empty(), "{res:?}");
    assert_eq!(bufs.len(), 2);
    assert_eq!(samples16(&bufs[0]), png_dn(0));
    assert_eq!(samples16(&bufs[1]), png_dn(2));
    assert!(res.warnings.iter().any(|w| w.contains("Skipped FITS file") && w.contains("truncated")), "{res:?}");
}
