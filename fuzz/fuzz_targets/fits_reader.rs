//! Arbitrary bytes through the FITS reader heliofitsdec uses: `extent` (file
//! boundaries in a byte stream) and `read_image` (headers, tables, RICE_1 and gzip
//! tiles). No panic, no allocation beyond what the data or MAX_PIXELS allow, and a
//! file `extent` calls whole stays whole for `hdus`.
#![no_main]

use helio_fits::{Extent, Pick, extent, hdus, read_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Extent::Ends(len) | Extent::Whole(len)) = extent(data) {
        assert!(len <= data.len());
        assert!(hdus(&data[..len]).is_ok());
    }
    if let Ok(image) = read_image(data, Pick::FirstImage) {
        assert_eq!(image.samples.len(), image.width * image.height);
        let _ = image.to_u16(1.0, 0.0);
    }
});
