//! The standard library scripts get, all pure functions of their arguments
//! except `random` and `uuid` (the calling user's own generator) and `time`:
//! `crypto` (sha256, sha1, md5, hmac), `base64`, `hex`, `json`, `url`,
//! `uuid`, `time`, `random`, plus `check` and `fail`. Nothing here reads a
//! file, the network or the environment.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use md5::Digest as _;
use mlua::{Lua, LuaSerdeExt, Result, Table, Value};

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(fastrand::Rng::new());
}

/// Runs `f` with `rng` as the generator of `random.*` and `uuid()`: the
/// virtual user lends its own for the length of one call.
pub fn with_rng<R>(rng: &mut fastrand::Rng, f: impl FnOnce() -> R) -> R {
    RNG.with(|r| std::mem::swap(&mut *r.borrow_mut(), rng));
    let out = f();
    RNG.with(|r| std::mem::swap(&mut *r.borrow_mut(), rng));
    out
}

fn rng<R>(f: impl FnOnce(&mut fastrand::Rng) -> R) -> R {
    RNG.with(|r| f(&mut r.borrow_mut()))
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// Installs the library into `lua`'s globals.
pub(crate) fn install(lua: &Lua) -> Result<()> {
    let g = lua.globals();
    // Luau has no io, os.execute, loadfile or dofile; mlua adds a `require`
    // that reads files: scripts get none of it.
    g.raw_set("require", Value::Nil)?;
    g.raw_set("loadstring", Value::Nil)?;
    g.raw_set("crypto", crypto(lua)?)?;
    g.raw_set("base64", base64_lib(lua)?)?;
    g.raw_set("hex", hex_lib(lua)?)?;
    g.raw_set("json", json_lib(lua)?)?;
    g.raw_set("url", url_lib(lua)?)?;
    g.raw_set("time", time_lib(lua)?)?;
    g.raw_set("random", random_lib(lua)?)?;
    g.raw_set(
        "uuid",
        lua.create_function(|_, ()| {
            let bytes = rng(|r| r.u128(..)).to_le_bytes();
            Ok(uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string())
        })?,
    )?;
    Ok(())
}

/// Encodes raw bytes as asked: `hex` (the default), `base64` or `binary`.
fn encode(lua: &Lua, bytes: &[u8], enc: Option<String>) -> Result<mlua::LuaString> {
    match enc.as_deref().unwrap_or("hex") {
        "hex" => lua.create_string(to_hex(bytes)),
        "base64" => lua.create_string(STANDARD.encode(bytes)),
        "base64url" => lua.create_string(URL_SAFE_NO_PAD.encode(bytes)),
        "binary" => lua.create_string(bytes),
        other => Err(err(format!(
            "unknown encoding `{other}` (hex, base64, base64url, binary)"
        ))),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn digest(alg: &str, data: &[u8]) -> Result<Vec<u8>> {
    Ok(match alg {
        "sha256" => ring::digest::digest(&ring::digest::SHA256, data)
            .as_ref()
            .to_vec(),
        "sha1" => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        "sha512" => ring::digest::digest(&ring::digest::SHA512, data)
            .as_ref()
            .to_vec(),
        "md5" => md5::Md5::digest(data).to_vec(),
        other => {
            return Err(err(format!(
                "unknown hash `{other}` (sha256, sha1, sha512, md5)"
            )));
        }
    })
}

fn hmac(alg: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let alg = match alg {
        "sha256" => ring::hmac::HMAC_SHA256,
        "sha1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "sha512" => ring::hmac::HMAC_SHA512,
        other => {
            return Err(err(format!(
                "unknown hmac hash `{other}` (sha256, sha1, sha512)"
            )));
        }
    };
    let key = ring::hmac::Key::new(alg, key);
    Ok(ring::hmac::sign(&key, data).as_ref().to_vec())
}

fn crypto(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    for alg in ["sha256", "sha1", "sha512", "md5"] {
        t.raw_set(
            alg,
            lua.create_function(move |lua, (data, enc): (mlua::LuaString, Option<String>)| {
                encode(lua, &digest(alg, &data.as_bytes())?, enc)
            })?,
        )?;
    }
    t.raw_set(
        "hmac",
        lua.create_function(
            |lua, (alg, key, data, enc): (String, mlua::LuaString, mlua::LuaString, Option<String>)| {
                encode(lua, &hmac(&alg, &key.as_bytes(), &data.as_bytes())?, enc)
            },
        )?,
    )?;
    Ok(t)
}

fn base64_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, (s, url): (mlua::LuaString, Option<bool>)| {
            let out = if url.unwrap_or(false) {
                URL_SAFE_NO_PAD.encode(s.as_bytes())
            } else {
                STANDARD.encode(s.as_bytes())
            };
            lua.create_string(out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let b = s.as_bytes();
            let out = STANDARD
                .decode(&b)
                .or_else(|_| URL_SAFE_NO_PAD.decode(&b))
                .map_err(|e| err(format!("base64.decode: {e}")))?;
            lua.create_string(out)
        })?,
    )?;
    Ok(t)
}

fn hex_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, s: mlua::LuaString| lua.create_string(to_hex(&s.as_bytes())))?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let b = s.as_bytes();
            if !b.len().is_multiple_of(2) {
                return Err(err("hex.decode: odd number of digits"));
            }
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            let mut out = Vec::with_capacity(b.len() / 2);
            for pair in b.chunks(2) {
                match (digit(pair[0]), digit(pair[1])) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(err("hex.decode: not a hex digit")),
                }
            }
            lua.create_string(out)
        })?,
    )?;
    Ok(t)
}

fn json_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|_, v: Value| {
            serde_json::to_string(&v).map_err(|e| err(format!("json.encode: {e}")))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let v: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| err(format!("json.decode: {e}")))?;
            crate::convert::to_lua(lua, &v)
        })?,
    )?;
    t.raw_set("null", lua.null())?;
    Ok(t)
}

fn url_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|_, s: String| {
            Ok(url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|_, s: String| {
            Ok(url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default())
        })?,
    )?;
    t.raw_set(
        "query",
        lua.create_function(|_, fields: Table| {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for kv in fields.pairs::<String, Value>() {
                let (k, v) = kv?;
                pairs.push((k, crate::convert::scalar_text(&v)?));
            }
            pairs.sort();
            let mut enc = url::form_urlencoded::Serializer::new(String::new());
            enc.extend_pairs(pairs);
            Ok(enc.finish())
        })?,
    )?;
    Ok(t)
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn time_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "now",
        lua.create_function(|_, ()| Ok(unix_now().as_secs_f64()))?,
    )?;
    t.raw_set(
        "ms",
        lua.create_function(|_, ()| Ok(unix_now().as_millis() as f64))?,
    )?;
    t.raw_set(
        "iso",
        lua.create_function(|_, ()| {
            Ok(humantime::format_rfc3339_millis(SystemTime::now()).to_string())
        })?,
    )?;
    Ok(t)
}

fn random_lib(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "int",
        lua.create_function(|_, (a, b): (i64, i64)| {
            if a > b {
                return Err(err(format!(
                    "random.int({a}, {b}): the low bound is above the high one"
                )));
            }
            Ok(rng(|r| r.i64(a..=b)))
        })?,
    )?;
    t.raw_set(
        "float",
        lua.create_function(|_, (a, b): (Option<f64>, Option<f64>)| {
            let (a, b) = (a.unwrap_or(0.0), b.unwrap_or(1.0));
            if !(a.is_finite() && b.is_finite() && a <= b) {
                return Err(err(format!("random.float({a}, {b}): bad bounds")));
            }
            Ok(a + rng(|r| r.f64()) * (b - a))
        })?,
    )?;
    t.raw_set(
        "choice",
        lua.create_function(|_, list: Table| {
            let n = list.raw_len();
            if n == 0 {
                return Err(err("random.choice of an empty list"));
            }
            list.raw_get::<Value>(rng(|r| r.usize(1..=n)))
        })?,
    )?;
    t.raw_set(
        "string",
        lua.create_function(|_, n: usize| {
            Ok(rng(|r| {
                std::iter::repeat_with(|| r.alphanumeric())
                    .take(n.min(1 << 16))
                    .collect::<String>()
            }))
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            to_hex(&digest("sha256", b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            to_hex(&digest("md5", b"abc").unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            to_hex(&digest("sha1", b"abc").unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            to_hex(&hmac("sha256", b"Jefe", b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
