//! Reads a histogram off the wire (HdrHistogram's V2 encoding, optionally
//! DEFLATE-compressed) straight into its non-empty buckets, as (value, count)
//! pairs. A worker's report of one second holds a handful of buckets out of
//! the ~23,500 of the 1 µs–1 h layout; decoding it into a dense histogram (as
//! `hdrhistogram`'s deserializer does) would allocate and zero 188 kB and then
//! walk all of them for every endpoint of every report the master merges.
//!
//! Only our own layout is accepted (1 µs to [`MAX_MICROS`], 3 significant
//! digits), so each pair's value lands in the same bucket it came from.

use super::layout::{HistogramError, MAX_MICROS, SIGFIG};

// The V2 cookies with the word-size bits (0x10) HdrHistogram sets.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
/// Sub-buckets per bucket for 3 significant digits (2 × 10³ rounded up to a power of 2).
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
/// Past this many counts an encoding cannot fit our layout (and bucket
/// values stay far from overflowing).
const MAX_INDEX: usize = 40 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
/// Reports are small; a payload claiming more is not one of ours.
const MAX_PAYLOAD: usize = 1 << 20;
/// A trillion samples in one histogram is past any report (a worker sends
/// one every 250 ms), and far enough from the end of u64 that merged
/// histograms never overflow their sums (found by the fuzz target).
const MAX_COUNT: u64 = 1 << 40;

fn err(what: impl std::fmt::Display) -> HistogramError {
    HistogramError(format!("decode: {what}"))
}

/// The lowest value of the bucket at `index` (unit magnitude 0: values are µs).
fn value_for(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub as u64) << bucket
}

/// The non-empty buckets of an encoded histogram as (value, count), in
/// bucket order, and the sum of the counts.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Vec<(u64, u64)>, u64), HistogramError> {
    let (cookie, rest) = split_u32(bytes).ok_or_else(|| err("too short"))?;
    match cookie {
        V2_COOKIE => decode_v2(rest),
        V2_COMPRESSED_COOKIE => {
            let (len, rest) = split_u32(rest).ok_or_else(|| err("too short"))?;
            let compressed = rest.get(..len as usize).ok_or_else(|| err("truncated"))?;
            let plain = inflate(compressed)?;
            match split_u32(&plain) {
                Some((V2_COOKIE, inner)) => decode_v2(inner),
                _ => Err(err("not a v2 histogram inside the deflate stream")),
            }
        }
        other => Err(err(format!("unknown cookie {other:#x}"))),
    }
}

thread_local! {
    /// One zlib state per thread, reset for each histogram: building a fresh
    /// one (tens of kB, zeroed) cost more than inflating a small report.
    static INFLATE: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(true));
}

fn inflate(compressed: &[u8]) -> Result<Vec<u8>, HistogramError> {
    INFLATE.with_borrow_mut(|d| {
        d.reset(true);
        let mut out = Vec::with_capacity(compressed.len() * 4 + 64);
        loop {
            let consumed = d.total_in() as usize;
            let status = d
                .decompress_vec(
                    &compressed[consumed.min(compressed.len())..],
                    &mut out,
                    // Not `Finish`: with it, miniz inflates in one pass into
                    // the buffer given and fails the stream for good when
                    // that is too small, so a growing buffer never helps.
                    flate2::FlushDecompress::None,
                )
                .map_err(|e| err(format!("inflate: {e}")))?;
            match status {
                flate2::Status::StreamEnd => return Ok(out),
                _ if out.len() > MAX_PAYLOAD => return Err(err("inflates past any report")),
                _ if out.len() < out.capacity() => return Err(err("inflate: truncated stream")),
                _ => out.reserve(out.capacity()),
            }
        }
    })
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

fn split_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}

fn decode_v2(b: &[u8]) -> Result<(Vec<(u64, u64)>, u64), HistogramError> {
    let short = || err("truncated header");
    let (payload_len, b) = split_u32(b).ok_or_else(short)?;
    let (offset, b) = split_u32(b).ok_or_else(short)?;
    let (digits, b) = split_u32(b).ok_or_else(short)?;
    let (low, b) = split_u64(b).ok_or_else(short)?;
    let (high, b) = split_u64(b).ok_or_else(short)?;
    let (ratio, b) = split_u64(b).ok_or_else(short)?;
    if offset != 0 || f64::from_bits(ratio) != 1.0 {
        return Err(err("unsupported normalizing offset or conversion ratio"));
    }
    if (low, high, digits) != (1, MAX_MICROS, u32::from(SIGFIG)) {
        return Err(err(format!(
            "bounds {low}..{high} with {digits} digits, expected 1..{MAX_MICROS} with {SIGFIG}"
        )));
    }
    let payload = b
        .get(..payload_len as usize)
        .filter(|_| (payload_len as usize) <= MAX_PAYLOAD)
        .ok_or_else(|| err("truncated counts"))?;
    let mut pairs = Vec::new();
    let (mut index, mut total, mut at) = (0usize, 0u64, 0usize);
    while at < payload.len() {
        let (zz, used) = varint(&payload[at..]).ok_or_else(|| err("bad varint"))?;
        at += used;
        // Zig-zag: a negative number is a run of empty buckets.
        let n = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
        if n == i64::MIN {
            // No layout has 2^63 buckets; hdrhistogram's own decoder
            // overflows on it (found by the fuzz target).
            return Err(err("bad run of empty buckets"));
        }
        if n < 0 {
            index = index.saturating_add(n.unsigned_abs() as usize);
            // Encoders stop at the last count: a run past the layout's end
            // is not a histogram of ours (hdrhistogram's decoder overflows
            // on some; found by the fuzz target).
            if index > MAX_INDEX {
                return Err(err("more buckets than the layout has"));
            }
            continue;
        }
        if index >= MAX_INDEX || value_for(index) > MAX_MICROS {
            return Err(err("more buckets than the layout has"));
        }
        if n > 0 {
            pairs.push((value_for(index), n as u64));
            total = total
                .checked_add(n as u64)
                .filter(|t| *t <= MAX_COUNT)
                .ok_or_else(|| err("more samples than any report holds"))?;
        }
        index += 1;
    }
    Ok((pairs, total))
}

/// LEB128 as HdrHistogram writes it: 7 bits a byte, the 9th byte whole.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in b.iter().enumerate().take(9) {
        if i == 8 {
            return Some((value | (u64::from(byte) << 56), 9));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
    use proptest::prelude::*;

    use super::*;

    fn ours() -> Histogram<u64> {
        Histogram::new_with_bounds(1, MAX_MICROS, SIGFIG).unwrap()
    }

    fn rebuilt(pairs: &[(u64, u64)]) -> Histogram<u64> {
        let mut h = ours();
        for &(v, n) in pairs {
            h.record_n(v, n).unwrap();
        }
        h
    }

    proptest! {
        /// Every bucket comes back with its count, compressed or not, and a
        /// histogram rebuilt from the pairs equals the original.
        #[test]
        fn pairs_rebuild_the_histogram(
            values in prop::collection::vec((1u64..MAX_MICROS, 1u64..1000), 0..200)
        ) {
            let mut h = ours();
            for (v, n) in &values {
                h.record_n(*v, *n).unwrap();
            }
            let mut plain = Vec::new();
            V2Serializer::new().serialize(&h, &mut plain).unwrap();
            let mut deflated = Vec::new();
            V2DeflateSerializer::new().serialize(&h, &mut deflated).unwrap();
            for bytes in [&plain, &deflated] {
                let (pairs, total) = decode(bytes).unwrap();
                prop_assert_eq!(total, h.len());
                prop_assert_eq!(&rebuilt(&pairs), &h);
            }
        }
    }

    #[test]
    fn a_histogram_that_inflates_many_times_over_decodes() {
        // A thousand adjacent buckets of one count each: the stream inflates
        // to far more than the first output buffer holds.
        let mut h = ours();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let mut deflated = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .unwrap();
        let (pairs, total) = decode(&deflated).unwrap();
        assert_eq!(total, 1000);
        assert_eq!(rebuilt(&pairs), h);
    }

    #[test]
    fn bucket_values_match_the_library() {
        // The lowest value of each of the first 3 buckets' sub-buckets, and
        // the very top, land where the library puts them.
        for v in [
            1u64,
            2,
            1023,
            1024,
            2047,
            2048,
            2049,
            4095,
            4096,
            1 << 20,
            MAX_MICROS,
        ] {
            let mut h = ours();
            h.record(v).unwrap();
            let mut bytes = Vec::new();
            V2Serializer::new().serialize(&h, &mut bytes).unwrap();
            let (pairs, _) = decode(&bytes).unwrap();
            assert_eq!(pairs.len(), 1);
            assert!(
                h.equivalent(pairs[0].0, v),
                "{v} came back as {}",
                pairs[0].0
            );
        }
    }

    #[test]
    fn foreign_or_broken_bytes_are_refused() {
        let mut other = Histogram::<u64>::new_with_bounds(1, 1000, 2).unwrap();
        other.record(5).unwrap();
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&other, &mut bytes).unwrap();
        let e = decode(&bytes).unwrap_err().to_string();
        assert!(e.contains("expected 1..3600000000 with 3"), "{e}");
        let mut good = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&ours(), &mut good)
            .unwrap();
        for broken in [
            &b""[..],
            b"abc",
            b"garbage!",
            &good[..good.len() - 3],
            &good[..10],
        ] {
            assert!(decode(broken).is_err(), "{broken:?}");
        }
        // A run of zeros past the end of the layout, then a count.
        let mut h = ours();
        h.record(7).unwrap();
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&h, &mut bytes).unwrap();
        let header = bytes.len() - 2;
        let mut far = bytes[..header].to_vec();
        far.extend([0xff, 0xff, 0xff, 0x7f, 0x02]); // zig-zag -(2^27), then count 1
        far[7] = 5; // payload length
        assert!(decode(&far).is_err());
    }
}
