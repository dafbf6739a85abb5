//! Decodes the fixtures written by `make_fixtures.py` (astropy, i.e. cfitsio's tile
//! coders) and compares them with the PNG frame they were cut from.

use std::path::PathBuf;

use helio_fits::{Clipped, Error, Extent, Pick, Samples, extent, read_image};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = root().join("fits/tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// DN of data/aia171/frame_NN.png (16-bit grey PNG).
fn png_dn(frame: usize) -> (usize, usize, Vec<u16>) {
    let path = root().join(format!("data/aia171/frame_{frame:02}.png"));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let dn = buf[..info.buffer_size()].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    (info.width as usize, info.height as usize, dn)
}

/// The crop the fixtures hold: rows 200..296, columns 150..278 of frame 00.
fn crop() -> Vec<i64> {
    let (w, _, dn) = png_dn(0);
    (200..296).flat_map(|r| (150..278).map(move |c| (r, c))).map(|(r, c)| dn[r * w + c] as i64).collect()
}

/// Reads a fixture, turns it top-down, and returns its physical values as integers.
fn physical(name: &str) -> (helio_fits::Image, Vec<i64>) {
    let mut img = read_image(&fixture(name), Pick::FirstImage).unwrap_or_else(|e| panic!("{name}: {e}"));
    img.flip_rows();
    assert_eq!((img.width, img.height), (128, 96), "{name}");
    let v = (0..img.width * img.height).map(|i| img.physical(i).map_or(i64::MIN, |v| v as i64)).collect();
    (img, v)
}

#[test]
fn aia_level1_layout_decodes_to_the_png_dn() {
    let (img, v) = physical("rice_rows.fits");
    assert_eq!(v, crop());
    assert!(matches!(img.samples, Samples::I16(_)));
    assert_eq!(img.hdu, 1);
    assert_eq!(img.header.int("WAVELNTH"), Some(171));
    assert_eq!(img.header.str("TELESCOP"), Some("SDO/AIA"));
}

#[test]
fn every_coder_and_sample_type_is_lossless() {
    let want = crop();
    for name in ["rice_tiles.fits", "gzip2.fits", "u16.fits", "image_after_table.fits"] {
        assert_eq!(physical(name).1, want, "{name}");
    }
    let (_, v) = physical("gzip1_i32.fits");
    assert_eq!(v, want.iter().map(|x| x - 100).collect::<Vec<_>>());
    let (img, v) = physical("rice_u8.fits");
    assert!(matches!(img.samples, Samples::U8(_)));
    assert_eq!(v, want.iter().map(|x| x >> 6).collect::<Vec<_>>());
}

#[test]
fn rice_zero_and_raw_blocks() {
    // Left half one constant (all-zero difference blocks), top right random (raw blocks).
    let (_, v) = physical("rice_extremes.fits");
    let want = crop();
    for r in 8..96 {
        for c in 0..128 {
            let expect = if c < 64 { 1234 } else { want[r * 128 + c] };
            assert_eq!(v[r * 128 + c], expect, "row {r} col {c}");
        }
    }
    assert!(v[..8 * 128].iter().any(|x| *x < 0), "random 16-bit values, some negative");
}

#[test]
fn floats_keep_their_nan_as_blank() {
    let mut img = read_image(&fixture("f32.fits"), Pick::FirstImage).unwrap();
    img.flip_rows();
    let want = crop();
    let (dn, clipped) = img.to_u16(4.0, 0.0);
    assert_eq!(clipped, Clipped { below: 0, above: 0, blank: 1 });
    assert_eq!(dn[0], 0);
    assert_eq!(dn[1..].iter().map(|&x| x as i64).collect::<Vec<_>>(), want[1..]);
}

#[test]
fn full_aia_frames_in_the_repo_match_their_pngs() {
    for frame in 0..3 {
        let bytes = std::fs::read(root().join(format!("data/aia171-fits/frame_{frame:02}.fits"))).unwrap();
        let mut img = read_image(&bytes, Pick::FirstImage).unwrap();
        img.flip_rows();
        let (w, h, dn) = png_dn(frame);
        assert_eq!((img.width, img.height), (w, h));
        let (out, clipped) = img.to_u16(1.0, 0.0);
        assert_eq!(clipped, Clipped::default());
        assert_eq!(out, dn, "frame {frame}");
    }
}

#[test]
fn clear_errors() {
    let msg = |r: helio_fits::Result<helio_fits::Image>| r.unwrap_err().to_string();
    let no_image = msg(read_image(&fixture("no_image.fits"), Pick::FirstImage));
    assert!(no_image.contains("no 2-D image") && no_image.contains("BINTABLE table"), "{no_image}");
    let cube = msg(read_image(&fixture("cube.fits"), Pick::FirstImage));
    assert!(cube.contains("NAXIS3 = 2") && cube.contains("cube"), "{cube}");
    assert!(matches!(read_image(b"\x89PNG\r\n\x1a\n and more bytes than thirty", Pick::FirstImage), Err(Error::NotFits)));
    assert!(msg(read_image(&fixture("rice_rows.fits"), Pick::Hdu(5))).contains("HDU 5"));

    // Every cut before the data's last byte is an error, never a panic (the padding
    // after it is not needed).
    let whole = fixture("rice_rows.fits");
    let data_end = 2 * 2880 + 96 * 8 + 12261; // headers, descriptors, heap (PCOUNT)
    assert!(read_image(&whole[..data_end], Pick::FirstImage).is_ok());
    for cut in (0..data_end).step_by(97).chain([data_end - 1]) {
        let r = read_image(&whole[..cut], Pick::FirstImage);
        assert!(r.is_err(), "cut at {cut} decoded");
    }
    // Damaged heap bytes: an error or different pixels, never a panic.
    let mut bad = whole.clone();
    let heap = 2 * 2880 + 96 * 8;
    for b in &mut bad[heap..heap + 600] {
        *b = 0xff;
    }
    let _ = read_image(&bad, Pick::FirstImage);
    // A descriptor pointing outside the heap.
    let mut bad = whole.clone();
    bad[2 * 2880 + 4..2 * 2880 + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = msg(read_image(&bad, Pick::FirstImage));
    assert!(e.contains("tile 0") && e.contains("outside the heap"), "{e}");
}

#[test]
fn extent_finds_file_boundaries() {
    let a = fixture("rice_rows.fits");
    let b = fixture("u16.fits");
    assert_eq!(extent(&a).unwrap(), Extent::Whole(a.len()));
    assert_eq!(extent(&a[..a.len() - 1]).unwrap(), Extent::Incomplete { need: a.len() });
    // The primary HDU alone is whole: an extension may or may not follow.
    assert_eq!(extent(&a[..2880]).unwrap(), Extent::Whole(2880));
    assert_eq!(extent(&a[..2880 + 8]).unwrap(), Extent::Incomplete { need: 2 * 2880 });
    let both = [a.clone(), b.clone()].concat();
    assert_eq!(extent(&both).unwrap(), Extent::Ends(a.len()));
    assert_eq!(extent(&both[a.len()..]).unwrap(), Extent::Whole(b.len()));
    assert!(matches!(extent(&[0u8; 3000]), Err(Error::NotFits)));
    // A file cut short, then a whole one: the cut is found at the second file's start.
    let cut = [&a[..3 * 2880], &b[..]].concat();
    assert_eq!(extent(&cut).unwrap(), Extent::Cut(3 * 2880));
    // Cut inside the header of the compressed HDU.
    let cut = [&a[..2880 + 1000], &b[..]].concat();
    assert!(matches!(extent(&cut), Ok(Extent::Cut(_)) | Err(_)), "{:?}", extent(&cut));
}
