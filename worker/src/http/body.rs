//! Response body decoding: `Content-Encoding: gzip` (and `x-gzip`) and
//! `deflate` (zlib-wrapped, or raw as some servers send it), never past the
//! body limit (a small body can inflate a thousandfold). Other or stacked
//! encodings are left as received, since the session only advertises gzip.

use std::io::Read;

use bytes::Bytes;
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

use super::HttpError;

/// Decodes `body` according to the response's `Content-Encoding`, to at
/// most `limit` bytes.
pub(crate) fn decode(headers: &HeaderMap, body: Bytes, limit: u64) -> Result<Bytes, HttpError> {
    if body.is_empty() {
        return Ok(body);
    }
    let Some(encoding) = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Ok(body);
    };
    let encoding = encoding.trim();
    if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        inflate(MultiGzDecoder::new(&body[..]), body.len(), limit, "gzip")
    } else if encoding.eq_ignore_ascii_case("deflate") {
        let zlib = body.len() >= 2
            && u16::from_be_bytes([body[0], body[1]]).is_multiple_of(31)
            && body[0] & 0x0f == 8;
        if zlib {
            inflate(ZlibDecoder::new(&body[..]), body.len(), limit, "deflate")
        } else {
            inflate(DeflateDecoder::new(&body[..]), body.len(), limit, "deflate")
        }
    } else {
        Ok(body)
    }
}

fn inflate(
    decoder: impl Read,
    encoded_len: usize,
    limit: u64,
    encoding: &'static str,
) -> Result<Bytes, HttpError> {
    let mut out = Vec::with_capacity(encoded_len.saturating_mul(4).min(1 << 20));
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| HttpError::Decode {
            encoding,
            message: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(HttpError::BodyTooLarge(limit));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, ZlibEncoder};
    use http::HeaderValue;

    use super::*;

    fn headers(enc: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(enc));
        h
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let text = b"hello hello hello hello";
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(text).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(
            &decode(&headers("deflate"), z.into(), u64::MAX).unwrap()[..],
            text
        );
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(text).unwrap();
        let d = d.finish().unwrap();
        assert_eq!(
            &decode(&headers("deflate"), d.into(), u64::MAX).unwrap()[..],
            text
        );
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        z.write_all(&vec![0u8; 8 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let err = decode(&headers("gzip"), bomb.clone().into(), 1 << 20).unwrap_err();
        assert_eq!(
            err.to_string(),
            "response body over 1 MiB (--max-body-size)"
        );
        assert_eq!(
            decode(&headers("gzip"), bomb.into(), 8 << 20)
                .unwrap()
                .len(),
            8 << 20
        );
    }

    #[test]
    fn bad_gzip_is_a_decode_error() {
        let err = decode(&headers("gzip"), Bytes::from_static(b"not gzip"), u64::MAX).unwrap_err();
        assert!(err.to_string().starts_with("gzip decode error: "), "{err}");
    }
}
