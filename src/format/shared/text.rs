//! Input hygiene for text formats: the encoding (declared, or detected from a byte-order mark and
//! the first bytes) and, for CSV, the delimiter (declared, or detected from the header line).
//!
//! Text reaches the readers as UTF-8 without a BOM. UTF-8 input passes through untouched (the
//! fast path); anything else is transcoded on the fly by `encoding_rs`.

use std::io::{self, BufRead, BufReader, Cursor, Read, Write};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use serde::Deserialize;

/// How many leading bytes `auto` looks at to tell UTF-8 from Windows-1252.
const SNIFF_BYTES: u64 = 64 * 1024;

/// The text encoding of an input, as a route declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TextEncoding {
    /// A BOM decides; otherwise UTF-8 when the first 64 KiB are valid UTF-8, else Windows-1252.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// UTF-8, with or without a BOM.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252 ("ANSI" in Excel), which is also how ISO-8859-1 files are read: the two
    /// agree on every printable character, and files labelled Latin-1 often hold 1252's extras.
    #[serde(rename = "windows-1252", alias = "iso-8859-1", alias = "latin-1")]
    Windows1252,
}

/// What decoding found about the original bytes, to write rejected rows back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Original {
    /// The encoding the bytes were read in.
    pub encoding: &'static Encoding,
    /// Whether the file began with a byte-order mark.
    pub bom: bool,
}

impl Original {
    /// Writes UTF-8 `text` to `out` in the original encoding, BOM first when `first` is set.
    pub fn encode_into(&self, text: &str, first: bool, out: &mut dyn Write) -> io::Result<()> {
        if first && self.bom {
            let bom: &[u8] = match self.encoding.name() {
                "UTF-16LE" => &[0xFF, 0xFE],
                "UTF-16BE" => &[0xFE, 0xFF],
                _ => &[0xEF, 0xBB, 0xBF],
            };
            out.write_all(bom)?;
        }
        match self.encoding.name() {
            "UTF-8" => out.write_all(text.as_bytes()),
            "UTF-16LE" => text
                .encode_utf16()
                .try_for_each(|u| out.write_all(&u.to_le_bytes())),
            "UTF-16BE" => text
                .encode_utf16()
                .try_for_each(|u| out.write_all(&u.to_be_bytes())),
            _ => out.write_all(&self.encoding.encode(text).0),
        }
    }
}

/// Decoded input: UTF-8 text, and what the original was.
pub struct Decoded<'a> {
    /// The text, UTF-8 without a BOM.
    pub text: Box<dyn BufRead + 'a>,
    /// The original encoding.
    pub original: Original,
    /// The CSV delimiter the first line suggests (see [`Delimiter::Auto`]).
    pub sniffed_delimiter: u8,
}

/// Decodes `input` as declared (or detected, for `Auto`). A BOM always wins over a declaration:
/// it cannot be there by accident.
pub fn decode<'a>(
    mut input: Box<dyn BufRead + 'a>,
    declared: TextEncoding,
) -> io::Result<Decoded<'a>> {
    let mut head = Vec::with_capacity(4096);
    input.by_ref().take(SNIFF_BYTES).read_to_end(&mut head)?;
    let (bom_encoding, bom_len) = match Encoding::for_bom(&head) {
        Some((e, len)) => (Some(e), len),
        None => (None, 0),
    };
    let encoding = bom_encoding.unwrap_or(match declared {
        TextEncoding::Utf8 => UTF_8,
        TextEncoding::Windows1252 => WINDOWS_1252,
        TextEncoding::Auto if looks_like_utf8(&head, SNIFF_BYTES) => UTF_8,
        TextEncoding::Auto => WINDOWS_1252,
    });
    let original = Original {
        encoding,
        bom: bom_len > 0,
    };
    let sniffed_delimiter = sniff_delimiter(
        encoding
            .decode_without_bom_handling(&head[bom_len..])
            .0
            .as_bytes(),
    );
    let mut head = Cursor::new(head);
    head.set_position(bom_len as u64);
    let rest = head.chain(input);
    let text: Box<dyn BufRead + 'a> = if encoding == UTF_8 {
        Box::new(rest)
    } else {
        let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(false)
            .build(rest);
        Box::new(BufReader::with_capacity(64 * 1024, decoder))
    };
    Ok(Decoded {
        text,
        original,
        sniffed_delimiter,
    })
}

/// True when `head` is valid UTF-8, allowing a character cut at the end of a full sniff window.
fn looks_like_utf8(head: &[u8], window: u64) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() as u64 == window,
    }
}

/// A CSV delimiter, as a route declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Delimiter {
    /// The most frequent of comma, semicolon and tab outside quotes in the header line.
    #[default]
    Auto,
    /// This byte.
    Byte(u8),
}

impl<'de> Deserialize<'de> for Delimiter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "auto" => Ok(Delimiter::Auto),
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "\t" | "\\t" | "tab" => Ok(Delimiter::Byte(b'\t')),
            "|" | "pipe" => Ok(Delimiter::Byte(b'|')),
            other => Err(serde::de::Error::custom(format!(
                "\"{other}\" is not a delimiter; use \"auto\", \",\", \";\", \"tab\" or \"|\""
            ))),
        }
    }
}

impl Delimiter {
    /// The delimiter to use, given the one sniffed from the input.
    pub fn resolve(self, sniffed: u8) -> u8 {
        match self {
            Delimiter::Byte(b) => b,
            Delimiter::Auto => sniffed,
        }
    }
}

/// The most frequent of `,` `;` tab outside quotes on the first line of `head` (comma on a tie).
fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::UTF_16LE;

    fn decoded(bytes: &[u8], declared: TextEncoding) -> (String, Original) {
        let mut d = decode(Box::new(bytes), declared).unwrap();
        let mut text = String::new();
        d.text.read_to_string(&mut text).unwrap();
        (text, d.original)
    }

    #[test]
    fn utf8_passes_through_and_its_bom_is_dropped() {
        let (text, original) = decoded("\u{feff}Name,Zürich\n".as_bytes(), TextEncoding::Auto);
        assert_eq!(text, "Name,Zürich\n");
        assert_eq!((original.encoding, original.bom), (UTF_8, true));
    }

    #[test]
    fn windows_1252_is_detected_and_transcoded() {
        let (text, original) = decoded(b"Name\nJos\xe9 \x80\n", TextEncoding::Auto);
        assert_eq!(text, "Name\nJosé €\n");
        assert_eq!((original.encoding, original.bom), (WINDOWS_1252, false));
        let mut back = Vec::new();
        original.encode_into(&text, true, &mut back).unwrap();
        assert_eq!(back, b"Name\nJos\xe9 \x80\n");
    }

    #[test]
    fn a_declared_encoding_is_honoured_unless_a_bom_says_otherwise() {
        // Valid UTF-8 bytes, declared Windows-1252: read as 1252.
        assert_eq!(decoded("é".as_bytes(), TextEncoding::Windows1252).0, "Ã©");
        assert_eq!(
            decoded("\u{feff}é".as_bytes(), TextEncoding::Windows1252).0,
            "é"
        );
        let (text, original) = decoded(b"\xff\xfeA\x00,\x00B\x00", TextEncoding::Auto);
        assert_eq!(text, "A,B");
        assert_eq!(original.encoding, UTF_16LE);
    }

    #[test]
    fn a_character_cut_by_the_sniff_window_is_still_utf8() {
        let mut head = vec![b'a'; 9];
        head.extend_from_slice(&"é".as_bytes()[..1]);
        assert!(looks_like_utf8(&head, 10));
        assert!(
            !looks_like_utf8(&head, 11),
            "cut short of the window: invalid"
        );
    }

    #[test]
    fn delimiters_are_sniffed_outside_quotes_on_the_first_line() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2,3,4,5\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d\n"), b',');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }
}
