//! A small YAML emitter for rendered objects.
//!
//! Manifests are read by kubectl and the API server with YAML 1.1 rules, where `yes`, `on`
//! or `0755` are not strings; this emitter quotes every scalar that any YAML version could
//! read as something other than a string, writes multi-line strings as literal blocks, and
//! keeps key order. It is also smaller and faster than a general serializer.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::Value;

/// Writes one document (without the `---` separator).
pub fn to_string<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = String::with_capacity(2048);
    write(&mut out, v);
    out
}

/// Appends one document to `out`, straight from the value's `Serialize` (typed Kubernetes
/// objects are written without building an intermediate JSON tree).
pub fn write<T: Serialize + ?Sized>(out: &mut String, v: &T) {
    // Every error comes from a custom `Serialize` impl; the objects we render have none
    // that fail, so the partial document is all there is to write.
    let _ = v.serialize(Emitter {
        out,
        pos: Pos::Root,
    });
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// Where the next value goes.
#[derive(Clone, Copy)]
enum Pos {
    /// The start of the document.
    Root,
    /// After `key:` of a mapping entry at this indentation.
    Key(usize),
    /// After the `-` of a sequence item at this indentation.
    Item(usize),
}

impl Pos {
    /// Indentation of a nested value's block scalars and mapping entries.
    fn inner(self) -> usize {
        match self {
            Pos::Root => 0,
            Pos::Key(l) | Pos::Item(l) => l + 2,
        }
    }
}

/// The serde error type: a non-string mapping key, or a custom `Serialize` impl that failed
/// (k8s-openapi's time stamps, which we never set). [`write()`] stops at it.
///
/// It carries no message on purpose: formatting one would compile in the `Display` code of
/// every error type that can reach it (jiff's alone is tens of kilobytes of WASM).
#[derive(Debug)]
pub struct Error;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the value cannot be written as YAML")
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Error
    }
}

/// Serializes one value at a position, writing YAML as it goes.
struct Emitter<'a> {
    out: &'a mut String,
    pos: Pos,
}

impl<'a> Emitter<'a> {
    /// A plain scalar (number, boolean, null).
    fn raw(self, s: &str) -> Result<(), Error> {
        if !matches!(self.pos, Pos::Root) {
            self.out.push(' ');
        }
        self.out.push_str(s);
        self.out.push('\n');
        Ok(())
    }
    /// An integer, as `Display` writes it, without the formatting machinery.
    fn integer(self, negative: bool, mut n: u64) -> Result<(), Error> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if !matches!(self.pos, Pos::Root) {
            self.out.push(' ');
        }
        if negative {
            self.out.push('-');
        }
        self.out
            .push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
        self.out.push('\n');
        Ok(())
    }
    fn display(self, v: impl std::fmt::Display) -> Result<(), Error> {
        if !matches!(self.pos, Pos::Root) {
            self.out.push(' ');
        }
        let _ = write!(self.out, "{v}");
        self.out.push('\n');
        Ok(())
    }
    fn compound(self, map: bool) -> Compound<'a> {
        Compound {
            out: self.out,
            pos: self.pos,
            map,
            started: false,
            pending: 0,
        }
    }
    /// `{variant: ...}`: the outer mapping has its one entry; a mapping (`map`) or a sequence
    /// follows as its value.
    fn variant(self, variant: &'static str, map: bool) -> Compound<'a> {
        let mut outer = self.compound(true);
        let level = outer.key(variant);
        Compound {
            out: outer.out,
            pos: Pos::Key(level),
            map,
            started: false,
            pending: 0,
        }
    }
}

/// A mapping or sequence being written; empty ones become `{}` or `[]` when they end.
struct Compound<'a> {
    out: &'a mut String,
    pos: Pos,
    map: bool,
    started: bool,
    /// Indentation of the entry whose key was just written (`serialize_key`).
    pending: usize,
}

impl Compound<'_> {
    /// Starts a mapping entry and writes its key; returns the entry's indentation.
    fn key(&mut self, key: &str) -> usize {
        let level = self.start_entry();
        string(self.out, key, level, true);
        self.out.push(':');
        level
    }
    /// Starts a struct field's entry: field names are identifiers (`apiVersion`, `clusterIP`),
    /// which never need quotes, so they skip [`key`](Self::key)'s checks.
    fn field(&mut self, name: &'static str) -> usize {
        debug_assert!(!needs_quotes(name, scan(name)), "field name {name:?}");
        let level = self.start_entry();
        self.out.push_str(name);
        self.out.push(':');
        level
    }
    /// Moves to where a mapping entry's key goes; returns the entry's indentation.
    fn start_entry(&mut self) -> usize {
        let level = self.pos.inner();
        if self.started {
            indent(self.out, level);
        } else {
            self.started = true;
            match self.pos {
                Pos::Root => {}
                Pos::Key(_) => {
                    self.out.push('\n');
                    indent(self.out, level);
                }
                // The first entry shares the dash's line.
                Pos::Item(_) => self.out.push(' '),
            }
        }
        level
    }
    /// Starts a sequence item; returns its indentation.
    fn item(&mut self) -> usize {
        let level = match self.pos {
            Pos::Root => 0,
            Pos::Key(l) => l,
            Pos::Item(l) => l + 2,
        };
        if !self.started {
            self.started = true;
            if !matches!(self.pos, Pos::Root) {
                self.out.push('\n');
            }
        }
        indent(self.out, level);
        self.out.push('-');
        level
    }
    fn value<T: Serialize + ?Sized>(&mut self, pos: Pos, v: &T) -> Result<(), Error> {
        v.serialize(Emitter {
            out: &mut *self.out,
            pos,
        })
    }
    fn entry<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), Error> {
        let level = self.key(key);
        self.value(Pos::Key(level), v)
    }
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let level = self.item();
        self.value(Pos::Item(level), v)
    }
    fn finish(self) -> Result<(), Error> {
        if !self.started {
            if !matches!(self.pos, Pos::Root) {
                self.out.push(' ');
            }
            self.out.push_str(if self.map { "{}\n" } else { "[]\n" });
        }
        Ok(())
    }
}

impl<'a> ser::Serializer for Emitter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.raw(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.integer(v < 0, i64::from(v).unsigned_abs())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.integer(v < 0, i64::from(v).unsigned_abs())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.integer(v < 0, i64::from(v).unsigned_abs())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.integer(v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.integer(false, u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.integer(false, v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // Formatted exactly as JSON would be (non-finite numbers become null).
        self.display(Value::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.display(Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        let level = self.pos.inner();
        if !matches!(self.pos, Pos::Root) {
            self.out.push(' ');
        }
        string(self.out, v, level, false);
        self.out.push('\n');
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = self.compound(false);
        for b in v {
            seq.element(b)?;
        }
        seq.finish()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.raw("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.raw("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.raw("null")
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let mut map = self.compound(true);
        map.entry(variant, v)?;
        map.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound(false))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Error> {
        Ok(self.compound(false))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Error> {
        Ok(self.compound(false))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant(variant, false))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound(true))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Error> {
        Ok(self.compound(true))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant(variant, true))
    }
}

/// The sequence-like compounds all write items.
macro_rules! items {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.element(v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}
items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending = key.serialize(KeyWriter(self))?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.value(Pos::Key(self.pending), v)
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        v: &V,
    ) -> Result<(), Error> {
        let level = key.serialize(KeyWriter(self))?;
        self.value(Pos::Key(level), v)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Structs and struct variants write their fields as mapping entries.
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                let level = self.field(key);
                self.value(Pos::Key(level), v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}
fields!(SerializeStruct, SerializeStructVariant);

/// Writes a mapping key (strings, and numbers or booleans as their text, like JSON);
/// returns the entry's indentation.
struct KeyWriter<'c, 'a>(&'c mut Compound<'a>);

fn key_error() -> Error {
    Error
}

impl ser::Serializer for KeyWriter<'_, '_> {
    type Ok = usize;
    type Error = Error;
    type SerializeSeq = Impossible<usize, Error>;
    type SerializeTuple = Impossible<usize, Error>;
    type SerializeTupleStruct = Impossible<usize, Error>;
    type SerializeTupleVariant = Impossible<usize, Error>;
    type SerializeMap = Impossible<usize, Error>;
    type SerializeStruct = Impossible<usize, Error>;
    type SerializeStructVariant = Impossible<usize, Error>;

    fn serialize_str(self, v: &str) -> Result<usize, Error> {
        Ok(self.0.key(v))
    }
    fn serialize_bool(self, v: bool) -> Result<usize, Error> {
        self.serialize_str(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<usize, Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<usize, Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<usize, Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<usize, Error> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<usize, Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<usize, Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<usize, Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<usize, Error> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_f64(self, _: f64) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_char(self, v: char) -> Result<usize, Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<usize, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<usize, Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<usize, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<usize, Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}

/// Whether YAML 1.1 or 1.2 reads `s` as a boolean or null. A `match`, which compiles to a
/// switch on the length and integer compares, where a list's `contains` called `memcmp` for
/// each word of the same length (4 % of the instructions writing a manifest).
fn reserved(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "null"
            | "Null"
            | "NULL"
            | "~"
    )
}

/// What one pass of [`scan`] finds in a string, one bit each.
const NOT_PLAIN: u8 = 1; // a byte other than ASCII letters, digits and `-_./`
const LF: u8 = 2; // a line feed
const CONTROL: u8 = 4; // an ASCII control byte other than a line feed (DEL included)
const NON_ASCII: u8 = 8; // a byte of a multi-byte character
const COLON: u8 = 16; // `:`
const HASH: u8 = 32; // `#`

/// The bits of one byte, branch-free, so that the long strings of [`scan`] compile to vector
/// code.
#[inline(always)]
const fn byte_bits(b: u8) -> u8 {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    let plain = letter | digit | (b == b'-') | (b == b'_') | (b == b'.') | (b == b'/');
    let control = ((b < 0x20) & (b != b'\n')) | (b == 0x7f);
    ((!plain as u8) * NOT_PLAIN)
        | ((b == b'\n') as u8 * LF)
        | (control as u8 * CONTROL)
        | ((b >= 0x80) as u8 * NON_ASCII)
        | ((b == b':') as u8 * COLON)
        | ((b == b'#') as u8 * HASH)
}

/// [`byte_bits`] of every byte, for short strings: one load a byte.
static BITS: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = byte_bits(b as u8);
        b += 1;
    }
    t
};

/// The bits of every byte of `s`, ORed, in one pass: 32 bytes at a time in vector code, the
/// rest (and short strings, most of a manifest's) through [`BITS`]. Testing each property
/// apart, byte by byte, made the long ConfigMap files most of the writing.
fn scan(s: &str) -> u8 {
    // Blocks only where the target has vector instructions: without them (wasm32 without
    // simd128, as the previewer is built) the table is the faster way through every byte.
    const BLOCK: usize = if cfg!(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_feature = "simd128"
    )) {
        32
    } else {
        usize::MAX
    };
    let mut chunks = s.as_bytes().chunks_exact(BLOCK);
    let mut acc = 0;
    for chunk in &mut chunks {
        acc |= chunk.iter().fold(0, |a, &b| a | byte_bits(b));
    }
    chunks
        .remainder()
        .iter()
        .fold(acc, |a, &b| a | BITS[usize::from(b)])
}

/// Whether `s` would be misread unquoted; `bits` is [`scan`] of `s`.
fn needs_quotes(s: &str, bits: u8) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return true;
    };
    // Fast path: identifiers, paths, image references and quantities that are not numbers.
    if first.is_ascii_alphabetic() && bits & NOT_PLAIN == 0 {
        return reserved(s);
    }
    if reserved(s)
        || first == b' '
        || bytes[bytes.len() - 1] == b' '
        || s.starts_with("---")
        || looks_numeric(s)
    {
        return true;
    }
    // Searched for only when the scan saw a `:` or a `#`.
    if (bits & COLON != 0 && (s.contains(": ") || s.ends_with(':')))
        || (bits & HASH != 0 && s.contains(" #"))
        || has_control(s, bits, false)
    {
        return true;
    }
    if first == b'-' {
        // `-c` and `--flag` are plain; `- x` would start a list.
        return !s[1..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
    }
    b"?:,[]{}#&*!|>'\"%@`".contains(&first)
}

/// Whether `s` holds a control character (`char::is_control`), a line feed aside when
/// `newline_ok`; `bits` is [`scan`] of `s`. Only text with multi-byte characters is decoded,
/// for the C1 controls (U+0080 to U+009F).
fn has_control(s: &str, bits: u8, newline_ok: bool) -> bool {
    let ascii = if newline_ok { CONTROL } else { CONTROL | LF };
    if bits & ascii != 0 {
        return true;
    }
    bits & NON_ASCII != 0 && s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c))
}

/// Anything a YAML resolver could take for a number, date or special float.
fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']);
    if t.eq_ignore_ascii_case(".inf") || t.eq_ignore_ascii_case(".nan") {
        return true;
    }
    let first = t.chars().next();
    first.is_some_and(|c| c.is_ascii_digit() || c == '.')
        && t.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '.' | '_'
                        | ':'
                        | 'x'
                        | 'o'
                        | 'X'
                        | 'O'
                        | '+'
                        | '-'
                        | 'e'
                        | 'E'
                        | 'T'
                        | 't'
                        | 'Z'
                        | ' '
                )
        })
}

fn string(out: &mut String, s: &str, level: usize, key: bool) {
    let bits = scan(s);
    if !key && bits & LF != 0 && !s.starts_with([' ', '\n']) && !has_control(s, bits, true) {
        out.push_str(if s.ends_with('\n') {
            if s.ends_with("\n\n") { "|+" } else { "|" }
        } else {
            "|-"
        });
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, level);
                out.push_str(line);
            }
        }
        return;
    }
    if !needs_quotes(s, bits) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        let v = json!({"args": ["--appendonly", "yes", "on", "0755", "1e3", "8080", "-c", "a: b", "", "x #y", "ok"], "port": 8080, "flag": true});
        let y = to_string(&v);
        assert_eq!(
            y,
            "args:\n- --appendonly\n- \"yes\"\n- \"on\"\n- \"0755\"\n- \"1e3\"\n- \"8080\"\n- -c\n- \"a: b\"\n- \"\"\n- \"x #y\"\n- ok\nport: 8080\nflag: true\n"
        );
    }

    #[test]
    fn writes_integers_as_display_does() {
        for v in [
            0,
            7,
            -7,
            10,
            -10,
            8080,
            i64::from(i32::MIN),
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(to_string(&v), format!("{v}\n"));
        }
        assert_eq!(to_string(&u64::MAX), format!("{}\n", u64::MAX));
        assert_eq!(to_string(&json!({"a": [-1, 2]})), "a:\n- -1\n- 2\n");
    }

    #[test]
    fn quotes_booleans_nulls_and_what_reads_as_a_key_or_a_comment() {
        for w in [
            "y", "Yes", "NO", "true", "False", "ON", "off", "null", "NULL", "~",
        ] {
            assert_eq!(to_string(&json!(w)), format!("\"{w}\"\n"));
        }
        for w in ["yes!", "nulls", "tRue", "Y2", "~x", "a:b", "a#b"] {
            assert_eq!(to_string(&json!(w)), format!("{w}\n"));
        }
        for w in ["ends:", "a: b", "a #b"] {
            assert_eq!(to_string(&json!(w)), format!("\"{w}\"\n"));
        }
    }

    #[test]
    fn scan_finds_a_byte_wherever_it_stands() {
        for b in 0u8..0x80 {
            let want = byte_bits(b);
            assert_eq!(want & NON_ASCII, 0);
            assert_eq!(want & COLON != 0, b == b':');
            assert_eq!(want & HASH != 0, b == b'#');
            assert_eq!(
                want & NOT_PLAIN == 0,
                b.is_ascii_alphanumeric() || b"-_./".contains(&b)
            );
            // In the 32-byte blocks and the rest, and in short strings.
            for (len, at) in [(90, 0), (90, 31), (90, 32), (90, 63), (90, 64), (90, 79)]
                .into_iter()
                .chain([(90, 80), (90, 89), (20, 0), (20, 15), (20, 16), (20, 19)])
            {
                let mut text = vec![b'a'; len];
                text[at] = b;
                assert_eq!(
                    scan(std::str::from_utf8(&text).unwrap()),
                    want,
                    "{b} at {at} of {len}"
                );
            }
            assert_eq!(scan(std::str::from_utf8(&[b]).unwrap()), want, "{b}");
        }
        assert_eq!(
            scan(&format!("{}\u{e9}", "a".repeat(40))),
            NOT_PLAIN | NON_ASCII
        );
    }

    #[test]
    fn control_check_matches_char_is_control() {
        for c in (0u32..0x300).filter_map(char::from_u32) {
            for text in [format!("a{c}b"), format!("a{c}\nb"), format!("\u{e9}{c}")] {
                for newline_ok in [false, true] {
                    let want = text
                        .chars()
                        .any(|d| d.is_control() && !(newline_ok && d == '\n'));
                    assert_eq!(
                        has_control(&text, scan(&text), newline_ok),
                        want,
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn nests_and_writes_literal_blocks() {
        let v = json!({"spec": {"containers": [{"name": "a", "command": ["sh", "-c", "set -e\necho hi\n"]}], "empty": {}, "none": []}});
        assert_eq!(
            to_string(&v),
            "spec:\n  containers:\n  - name: a\n    command:\n    - sh\n    - -c\n    - |\n      set -e\n      echo hi\n  empty: {}\n  none: []\n"
        );
    }

    #[test]
    fn round_trips_through_a_parser() {
        let v = json!({"data": {"A": "yes", "B": "1.0", "C": "multi\nline", "D": "  lead", "E": "-1", "F": "http://x:80/p", "G": "{json}"}, "list": [[1, 2], {"k": null}]});
        let back = crate::config::yaml::parse(&to_string(&v)).unwrap().value;
        assert_eq!(back, v);
    }

    #[test]
    fn writes_enum_variants_as_serde_json_does() {
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, &'static str),
            Struct { a: u8, b: Vec<u8> },
        }
        for e in [
            E::Unit,
            E::New(1),
            E::Tuple(2, "x"),
            E::Struct { a: 3, b: vec![4] },
        ] {
            let want = serde_json::to_value(&e).unwrap();
            let back = crate::config::yaml::parse(&to_string(&e)).unwrap().value;
            assert_eq!(back, want);
        }
        assert_eq!(
            to_string(&vec![E::Tuple(2, "x")]),
            "- Tuple:\n  - 2\n  - x\n"
        );
    }
}
