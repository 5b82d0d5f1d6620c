//! What a format family lists: each format's name and how to make its reader and its writer
//! from a route's options. A new format is a new file in its family plus one entry in the
//! family's `FORMATS`.

use super::{FormatProblem, Options, ReaderFormat, WriterFormat};

/// Makes a format's reader from a route's `reader_options`.
pub type MakeReader = fn(&Options) -> Result<Box<dyn ReaderFormat>, Vec<FormatProblem>>;

/// Makes a format's writer from a route's `writer_options`.
pub type MakeWriter = fn(&Options) -> Result<Box<dyn WriterFormat>, Vec<FormatProblem>>;

/// One format of a family: its name, and its reader and writer where it has them.
pub struct Format {
    /// The name routes use (`canonical-orders-csv`).
    pub name: &'static str,
    /// Its reader, if it reads.
    pub reader: Option<MakeReader>,
    /// Its writer, if it writes.
    pub writer: Option<MakeWriter>,
}

impl Format {
    /// A format that reads and writes.
    pub const fn both(name: &'static str, reader: MakeReader, writer: MakeWriter) -> Format {
        Format {
            name,
            reader: Some(reader),
            writer: Some(writer),
        }
    }

    /// A format that only reads.
    pub const fn reads(name: &'static str, reader: MakeReader) -> Format {
        Format {
            name,
            reader: Some(reader),
            writer: None,
        }
    }

    /// A format that only writes.
    pub const fn writes(name: &'static str, writer: MakeWriter) -> Format {
        Format {
            name,
            reader: None,
            writer: Some(writer),
        }
    }
}
