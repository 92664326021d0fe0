//! Strict HTTP/1.1 request framing (RFC 9112), checked on the raw bytes a client sends before
//! hyper parses them.
//!
//! hyper's chunked decoder accepts a bare LF inside a trailer line, so a chunked request whose
//! trailer line ends in LF swallows the next pipelined request's head as trailer lines and runs
//! that request's body as a request of its own (request smuggling). [`RequestFraming`] sees every
//! byte of an HTTP/1 connection, in order, and reports the first byte at which the framing is not
//! what a strict RFC 9112 parser accepts, so the connection can be cut there.
//!
//! It checks only what decides where a message ends: CRLF line endings in heads, chunk-size lines
//! and trailer sections; field-line shape; `Content-Length` and `Transfer-Encoding`; chunk sizes
//! and the CRLF after chunk data. It does not judge methods, targets, field semantics or bodies,
//! which it skips without looking at them. It holds no buffer: a request of any size is checked
//! with a fixed amount of state.
//!
//! Requests hyper accepts but this refuses, on purpose: bare LF (or a bare LF empty line before a
//! request line) as a line ending; `Transfer-Encoding` together with `Content-Length`; `chunked`
//! twice; a chunk size of more than 16 hex digits (even with leading zeros); whitespace after a
//! chunk size that is not followed by `;`; NUL in a chunk extension; a chunk-size line with more
//! than 4 KiB of extensions (hyper's limit is 16 KiB over the whole body).

use std::fmt;

/// Where in a request the violation was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The request line, or an empty line before it (RFC 9112 §2.2, §3).
    RequestLine,
    /// A field line of the request head or the empty line that ends the head, including the
    /// body-framing fields `Content-Length` and `Transfer-Encoding` (RFC 9112 §2.1, §5, §6).
    Header,
    /// A chunk-size line: the size, its extensions and its CRLF (RFC 9112 §7.1, §7.1.1).
    ChunkSize,
    /// The CRLF that must follow each chunk's data (RFC 9112 §7.1).
    ChunkData,
    /// The trailer section after the last chunk, up to its final empty line (RFC 9112 §7.1.2).
    Trailer,
}

/// The first framing violation of a client's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Index, in the input given to the failing [`RequestFraming::inspect`] call, of the first
    /// byte that breaks the framing. For a bare CR it is the byte after the CR (the CR itself may
    /// have come in an earlier call); for a `Transfer-Encoding` that does not end in `chunked` it
    /// is the LF that ends the head, where the final coding becomes known.
    pub offset: usize,
    /// The part of the request the byte belongs to.
    pub part: Part,
    /// What is wrong, for logs (for example `"bare LF"`).
    pub reason: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP/1 framing violation in {:?} at byte {}: {}",
            self.part, self.offset, self.reason
        )
    }
}

impl std::error::Error for Violation {}

/// A strict RFC 9112 validator of the request framing on one HTTP/1 connection.
///
/// Feed it every byte the client sends, in order, through [`RequestFraming::inspect`]; the
/// stream may be cut anywhere. It follows pipelined requests (RFC 9112 §9.3) and refuses:
///
/// - a bare LF or bare CR in a request line, head, chunk-size line or trailer section, and any
///   line ending other than CRLF (RFC 9112 §2.2);
/// - a head, or separately a trailer section, longer than `max_head` bytes (empty lines before
///   the request line count towards the head);
/// - whitespace at the start of a field line: obsolete line folding, or whitespace between the
///   request line and the first field line (RFC 9112 §2.2, §5.2);
/// - a field line without a colon, a field name that is not a token or is followed by
///   whitespace before the colon (RFC 9112 §5.1), a control character other than HTAB in a field
///   value (RFC 9110 §5.5);
/// - `Transfer-Encoding` with `Content-Length`, `Transfer-Encoding` whose final coding is not
///   `chunked`, `chunked` more than once, `Transfer-Encoding` in an HTTP/1.0 request
///   (RFC 9112 §6.1, §6.3);
/// - a `Content-Length` that is not 1*DIGIT, does not fit in 64 bits, or, as a list or repeated
///   field, holds different numbers (RFC 9112 §6.3, RFC 9110 §8.6);
/// - a chunk size that is missing or longer than 16 hex digits, anything but BWS before `;`
///   after it, a CR, LF or NUL in a chunk extension, more than 4 KiB after the size on one line,
///   chunk data not followed by exactly CRLF (RFC 9112 §7.1, §7.1.1).
///
/// Bodies are skipped without looking at their bytes, in constant time per call; heads,
/// chunk-size lines and trailer sections are scanned byte by byte.
pub struct RequestFraming {
    /// Largest head, and separately largest trailer section, in bytes.
    max_head: usize,
    /// Where in the stream the next byte falls.
    state: State,
    /// Bytes of the current head (from the first empty line before the request line) or trailer
    /// section so far.
    section_len: usize,
    /// What the current head has said about the body.
    head: HeadFraming,
    /// The current chunk-size line.
    chunk: ChunkLine,
    /// Steps taken by `inspect`, each constant time or one slice search, to show that bodies
    /// cost nothing per byte.
    #[cfg(test)]
    steps: usize,
}

/// Most bytes on a chunk-size line after the size: whitespace and extensions.
const MAX_CHUNK_EXTENSIONS: usize = 4096;
/// Most hex digits of a chunk size: 64 bits.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;
/// The last eight bytes of an HTTP/1.0 request line, as a big-endian number.
const HTTP_10: u64 = u64::from_be_bytes(*b"HTTP/1.0");
const CONTENT_LENGTH: &[u8] = b"content-length";
const TRANSFER_ENCODING: &[u8] = b"transfer-encoding";
const CHUNKED: &[u8] = b"chunked";
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// A head or a trailer section: both are field lines ended by an empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Head,
    Trailer,
}

impl Section {
    fn part(self) -> Part {
        match self {
            Section::Head => Part::Header,
            Section::Trailer => Part::Trailer,
        }
    }
}

/// Where the next byte falls.
#[derive(Debug, Clone, Copy)]
enum State {
    /// At the start of a line before a request line: an empty line or the request line.
    BeforeRequest,
    /// After the CR of an empty line before the request line.
    BeforeRequestLf,
    /// Inside the request line.
    RequestLine,
    /// After the CR that ends the request line.
    RequestLineLf,
    /// At the start of a field line or of the empty line that ends the section.
    FieldStart(Section),
    /// Inside a field name.
    FieldName(Section),
    /// After the colon of a field line.
    FieldValue(Section),
    /// After the CR that ends a field line.
    FieldLf(Section),
    /// After the CR of the empty line that ends the section.
    SectionEndLf(Section),
    /// Inside a `Content-Length` body, with this many bytes left.
    Body(u64),
    /// Inside the hex digits of a chunk size (or before the first).
    ChunkSize,
    /// After whitespace that follows a chunk size.
    ChunkSizeBws,
    /// Inside chunk extensions.
    ChunkExtension,
    /// After the CR that ends a chunk-size line.
    ChunkSizeLf,
    /// Inside chunk data, with this many bytes left.
    ChunkData(u64),
    /// After chunk data, where its CR must come.
    ChunkDataCr,
    /// After the CR that follows chunk data.
    ChunkDataLf,
    /// A violation was reported; everything after it is refused.
    Failed(Part, &'static str),
}

/// What a `Content-Length` value parser expects next.
#[derive(Debug, Clone, Copy)]
enum LengthValue {
    /// Whitespace or the first digit of a list element.
    Element,
    /// More digits of a number read so far.
    Digits(u64),
    /// Whitespace or a comma after a number.
    AfterElement,
}

/// The framing field whose value is being read.
#[derive(Debug, Clone, Copy)]
enum Field {
    Other,
    ContentLength(LengthValue),
    TransferEncoding,
}

/// What the head of the current request has said about its body.
#[derive(Debug, Clone, Copy)]
struct HeadFraming {
    /// The last eight bytes of the request line.
    request_tail: u64,
    /// The request line ended in `HTTP/1.0`.
    http10: bool,
    /// No field line has ended yet.
    first_field: bool,
    /// Bytes of the current field name.
    name_len: usize,
    /// The field name so far is a prefix of `content-length`, case-insensitively.
    name_is_length: bool,
    /// The field name so far is a prefix of `transfer-encoding`, case-insensitively.
    name_is_encoding: bool,
    /// The field whose value is being read.
    field: Field,
    /// A `Content-Length` field line was seen.
    length_seen: bool,
    /// The `Content-Length` number read so far.
    length: Option<u64>,
    /// A `Transfer-Encoding` field line was seen.
    encoding_seen: bool,
    /// Some transfer coding was `chunked`.
    chunked_seen: bool,
    /// The last transfer coding so far is `chunked`.
    final_chunked: bool,
    /// Non-whitespace bytes of the current transfer coding.
    coding_len: usize,
    /// The current transfer coding is so far a prefix of `chunked`, case-insensitively.
    coding_is_chunked: bool,
    /// Whitespace followed the current transfer coding's last byte.
    coding_ws: bool,
}

impl Default for HeadFraming {
    fn default() -> Self {
        HeadFraming {
            request_tail: 0,
            http10: false,
            first_field: true,
            name_len: 0,
            name_is_length: true,
            name_is_encoding: true,
            field: Field::Other,
            length_seen: false,
            length: None,
            encoding_seen: false,
            chunked_seen: false,
            final_chunked: false,
            coding_len: 0,
            coding_is_chunked: true,
            coding_ws: false,
        }
    }
}

/// The chunk-size line being read.
#[derive(Debug, Clone, Copy, Default)]
struct ChunkLine {
    size: u64,
    digits: u8,
    /// Bytes after the size: whitespace and extensions.
    extensions: usize,
}

/// A violation at the byte being looked at.
type Fault = (Part, &'static str);

impl RequestFraming {
    /// A validator for a new connection, which refuses a request head (request line and field
    /// lines, RFC 9112 §2.1) or a trailer section (RFC 9112 §7.1.2) over `max_head` bytes.
    pub fn new(max_head: usize) -> Self {
        RequestFraming {
            max_head,
            state: State::BeforeRequest,
            section_len: 0,
            head: HeadFraming::default(),
            chunk: ChunkLine::default(),
            #[cfg(test)]
            steps: 0,
        }
    }

    /// Inspects the next bytes the client sent (the stream may be cut anywhere: mid-line,
    /// mid-CRLF, mid-chunk-size).
    ///
    /// `Ok(())` when all of `input` is valid so far; `Err(Violation)` with `offset` = index into
    /// this `input` of the first offending byte, by the rules of RFC 9112 §2.2 (line endings),
    /// §5 (field lines), §6.1 and §6.3 (body length) and §7.1 (chunked coding). After an `Err`,
    /// every later call returns an `Err` too, with `offset` 0.
    pub fn inspect(&mut self, input: &[u8]) -> Result<(), Violation> {
        if let State::Failed(part, reason) = self.state {
            return Err(Violation {
                offset: 0,
                part,
                reason,
            });
        }
        let mut at = 0;
        while at < input.len() {
            #[cfg(test)]
            {
                self.steps += 1;
            }
            let rest = &input[at..];
            let skipped = self.skip(rest);
            if skipped > 0 {
                at += skipped;
                continue;
            }
            if let Err((part, reason)) = self.step(rest[0]) {
                self.state = State::Failed(part, reason);
                return Err(Violation {
                    offset: at,
                    part,
                    reason,
                });
            }
            at += 1;
        }
        Ok(())
    }

    /// Passes over the leading bytes of `rest` that need no look one by one: body bytes, and
    /// plain bytes of a request line, a field value or chunk extensions. Returns how many.
    fn skip(&mut self, rest: &[u8]) -> usize {
        match self.state {
            State::Body(left) => {
                let n = bounded(left, rest.len());
                let left = left - n as u64;
                if left == 0 {
                    self.message_done();
                } else {
                    self.state = State::Body(left);
                }
                n
            }
            State::ChunkData(left) => {
                let n = bounded(left, rest.len());
                let left = left - n as u64;
                self.state = if left == 0 {
                    State::ChunkDataCr
                } else {
                    State::ChunkData(left)
                };
                n
            }
            State::RequestLine => {
                let window = self.section_window(rest);
                let n = window
                    .iter()
                    .position(|&b| b == CR || b == LF)
                    .unwrap_or(window.len());
                for &b in &window[n.saturating_sub(8)..n] {
                    self.head.request_tail = (self.head.request_tail << 8) | u64::from(b);
                }
                self.section_len += n;
                n
            }
            State::FieldName(_) => {
                // The name's token characters at once; the byte that ends them (the colon, or
                // what is refused) is stepped.
                let window = self.section_window(rest);
                let n = window
                    .iter()
                    .position(|&b| !is_tchar(b))
                    .unwrap_or(window.len());
                let run = &window[..n];
                let at = self.head.name_len;
                self.head.name_is_length &= name_continues(CONTENT_LENGTH, at, run);
                self.head.name_is_encoding &= name_continues(TRANSFER_ENCODING, at, run);
                self.head.name_len = at.saturating_add(n);
                self.section_len += n;
                n
            }
            State::FieldValue(_) if matches!(self.head.field, Field::Other) => {
                let window = self.section_window(rest);
                let n = window
                    .iter()
                    .position(|&b| !is_plain_value(b))
                    .unwrap_or(window.len());
                self.section_len += n;
                n
            }
            State::ChunkExtension => {
                let budget = MAX_CHUNK_EXTENSIONS.saturating_sub(self.chunk.extensions);
                let window = &rest[..rest.len().min(budget)];
                let n = window
                    .iter()
                    .position(|&b| b == CR || b == LF || b == 0)
                    .unwrap_or(window.len());
                self.chunk.extensions += n;
                n
            }
            _ => 0,
        }
    }

    /// The leading bytes of `rest` the current head or trailer section still has room for.
    fn section_window<'a>(&self, rest: &'a [u8]) -> &'a [u8] {
        let budget = self.max_head.saturating_sub(self.section_len);
        &rest[..rest.len().min(budget)]
    }

    /// Takes one byte that [`Self::skip`] did not pass over.
    fn step(&mut self, b: u8) -> Result<(), Fault> {
        let section = match self.state {
            State::BeforeRequest
            | State::BeforeRequestLf
            | State::RequestLine
            | State::RequestLineLf => Some((Part::RequestLine, "head too large")),
            State::FieldStart(Section::Head)
            | State::FieldName(Section::Head)
            | State::FieldValue(Section::Head)
            | State::FieldLf(Section::Head)
            | State::SectionEndLf(Section::Head) => Some((Part::Header, "head too large")),
            State::FieldStart(Section::Trailer)
            | State::FieldName(Section::Trailer)
            | State::FieldValue(Section::Trailer)
            | State::FieldLf(Section::Trailer)
            | State::SectionEndLf(Section::Trailer) => Some((Part::Trailer, "trailers too large")),
            _ => None,
        };
        if let Some(too_large) = section {
            self.section_len += 1;
            if self.section_len > self.max_head {
                return Err(too_large);
            }
        }

        match self.state {
            State::BeforeRequest => match b {
                CR => self.state = State::BeforeRequestLf,
                LF => return Err((Part::RequestLine, "bare LF")),
                _ => {
                    self.state = State::RequestLine;
                    self.head.request_tail = u64::from(b);
                }
            },
            State::BeforeRequestLf => match b {
                LF => self.state = State::BeforeRequest,
                _ => return Err((Part::RequestLine, "bare CR")),
            },
            State::RequestLine => match b {
                CR => self.state = State::RequestLineLf,
                LF => return Err((Part::RequestLine, "bare LF")),
                _ => self.head.request_tail = (self.head.request_tail << 8) | u64::from(b),
            },
            State::RequestLineLf => match b {
                LF => {
                    self.head.http10 = self.head.request_tail == HTTP_10;
                    self.state = State::FieldStart(Section::Head);
                }
                _ => return Err((Part::RequestLine, "bare CR")),
            },
            State::FieldStart(section) => self.field_start(section, b)?,
            State::FieldName(section) => match b {
                b':' => {
                    self.head.field = if section == Section::Head {
                        self.framing_field()?
                    } else {
                        Field::Other
                    };
                    self.state = State::FieldValue(section);
                }
                CR | LF => return Err((section.part(), "field line without colon")),
                _ if is_tchar(b) => self.name_byte(b),
                _ => return Err((section.part(), "invalid character in field name")),
            },
            State::FieldValue(section) => match b {
                CR => {
                    self.value_end()?;
                    self.state = State::FieldLf(section);
                }
                LF => return Err((section.part(), "bare LF")),
                _ if !is_plain_value(b) => {
                    return Err((section.part(), "control character in field value"));
                }
                _ => self.value_byte(b)?,
            },
            State::FieldLf(section) => match b {
                LF => {
                    self.head.first_field = false;
                    self.state = State::FieldStart(section);
                }
                _ => return Err((section.part(), "bare CR")),
            },
            State::SectionEndLf(section) => match (b, section) {
                (LF, Section::Head) => self.head_end()?,
                (LF, Section::Trailer) => self.message_done(),
                _ => return Err((section.part(), "bare CR")),
            },
            State::ChunkSize => self.chunk_size_byte(b)?,
            State::ChunkSizeBws => {
                self.chunk_extension_room()?;
                match b {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::ChunkExtension,
                    LF => return Err((Part::ChunkSize, "bare LF")),
                    _ => {
                        return Err((
                            Part::ChunkSize,
                            "whitespace after a chunk size not followed by an extension",
                        ));
                    }
                }
            }
            State::ChunkExtension => match b {
                CR => self.state = State::ChunkSizeLf,
                LF => return Err((Part::ChunkSize, "bare LF")),
                0 => return Err((Part::ChunkSize, "NUL in chunk extension")),
                _ => self.chunk_extension_room()?,
            },
            State::ChunkSizeLf => match b {
                LF => {
                    let size = self.chunk.size;
                    self.chunk = ChunkLine::default();
                    if size == 0 {
                        self.section_len = 0;
                        self.state = State::FieldStart(Section::Trailer);
                    } else {
                        self.state = State::ChunkData(size);
                    }
                }
                _ => return Err((Part::ChunkSize, "bare CR")),
            },
            State::ChunkDataCr => match b {
                CR => self.state = State::ChunkDataLf,
                LF => return Err((Part::ChunkData, "bare LF after chunk data")),
                _ => return Err((Part::ChunkData, "chunk data longer than its size")),
            },
            State::ChunkDataLf => match b {
                LF => self.state = State::ChunkSize,
                _ => return Err((Part::ChunkData, "bare CR after chunk data")),
            },
            // Bodies are passed over by `skip`, which leaves them only once they are done.
            State::Body(_) | State::ChunkData(_) => {}
            State::Failed(part, reason) => return Err((part, reason)),
        }
        Ok(())
    }

    /// The first byte of a field line, or of the empty line that ends the section.
    fn field_start(&mut self, section: Section, b: u8) -> Result<(), Fault> {
        match b {
            CR => self.state = State::SectionEndLf(section),
            LF => return Err((section.part(), "bare LF")),
            b' ' | b'\t' if section == Section::Head && self.head.first_field => {
                return Err((section.part(), "whitespace before the first field line"));
            }
            b' ' | b'\t' => return Err((section.part(), "obsolete line folding")),
            b':' => return Err((section.part(), "empty field name")),
            _ if is_tchar(b) => {
                self.head.name_len = 0;
                self.head.name_is_length = true;
                self.head.name_is_encoding = true;
                self.name_byte(b);
                self.state = State::FieldName(section);
            }
            _ => return Err((section.part(), "invalid character in field name")),
        }
        Ok(())
    }

    /// One more byte of a head's field name.
    fn name_byte(&mut self, b: u8) {
        let lower = b.to_ascii_lowercase();
        let at = self.head.name_len;
        self.head.name_is_length &= CONTENT_LENGTH.get(at) == Some(&lower);
        self.head.name_is_encoding &= TRANSFER_ENCODING.get(at) == Some(&lower);
        self.head.name_len = at.saturating_add(1);
    }

    /// At the colon of a head's field line: which framing field it is, refusing the
    /// combinations RFC 9112 §6.1 lets a server refuse.
    fn framing_field(&mut self) -> Result<Field, Fault> {
        let head = &mut self.head;
        if head.name_is_length && head.name_len == CONTENT_LENGTH.len() {
            if head.encoding_seen {
                return Err((Part::Header, "both Transfer-Encoding and Content-Length"));
            }
            head.length_seen = true;
            Ok(Field::ContentLength(LengthValue::Element))
        } else if head.name_is_encoding && head.name_len == TRANSFER_ENCODING.len() {
            if head.http10 {
                return Err((Part::Header, "Transfer-Encoding in an HTTP/1.0 request"));
            }
            if head.length_seen {
                return Err((Part::Header, "both Transfer-Encoding and Content-Length"));
            }
            head.encoding_seen = true;
            head.coding_len = 0;
            head.coding_is_chunked = true;
            head.coding_ws = false;
            Ok(Field::TransferEncoding)
        } else {
            Ok(Field::Other)
        }
    }

    /// A byte of a field value that is neither CR, LF nor a control character.
    fn value_byte(&mut self, b: u8) -> Result<(), Fault> {
        match self.head.field {
            Field::Other => {}
            Field::ContentLength(value) => {
                let next = match (value, b) {
                    (LengthValue::Element | LengthValue::AfterElement, b' ' | b'\t') => value,
                    (LengthValue::Element, b'0'..=b'9') => LengthValue::Digits(u64::from(b - b'0')),
                    (LengthValue::Digits(n), b'0'..=b'9') => LengthValue::Digits(
                        n.checked_mul(10)
                            .and_then(|n| n.checked_add(u64::from(b - b'0')))
                            .ok_or((Part::Header, "Content-Length over 64 bits"))?,
                    ),
                    (LengthValue::Digits(n), b' ' | b'\t') => {
                        self.length_element(n)?;
                        LengthValue::AfterElement
                    }
                    (LengthValue::Digits(n), b',') => {
                        self.length_element(n)?;
                        LengthValue::Element
                    }
                    (LengthValue::AfterElement, b',') => LengthValue::Element,
                    _ => return Err((Part::Header, "Content-Length is not 1*DIGIT")),
                };
                self.head.field = Field::ContentLength(next);
            }
            Field::TransferEncoding => {
                let head = &mut self.head;
                match b {
                    b' ' | b'\t' => head.coding_ws = head.coding_len > 0,
                    b',' => self.coding_end()?,
                    _ => {
                        if head.coding_ws {
                            head.coding_is_chunked = false;
                            head.coding_ws = false;
                        }
                        let lower = b.to_ascii_lowercase();
                        head.coding_is_chunked &= CHUNKED.get(head.coding_len) == Some(&lower);
                        head.coding_len = head.coding_len.saturating_add(1);
                    }
                }
            }
        }
        Ok(())
    }

    /// At the CR that ends a field value.
    fn value_end(&mut self) -> Result<(), Fault> {
        match self.head.field {
            Field::Other => {}
            Field::ContentLength(LengthValue::Element) => {
                return Err((Part::Header, "empty Content-Length or list element"));
            }
            Field::ContentLength(LengthValue::Digits(n)) => self.length_element(n)?,
            Field::ContentLength(LengthValue::AfterElement) => {}
            Field::TransferEncoding => self.coding_end()?,
        }
        self.head.field = Field::Other;
        Ok(())
    }

    /// One number of a `Content-Length` value: all must agree (RFC 9110 §8.6).
    fn length_element(&mut self, n: u64) -> Result<(), Fault> {
        match self.head.length {
            Some(known) if known != n => Err((Part::Header, "conflicting Content-Length values")),
            _ => {
                self.head.length = Some(n);
                Ok(())
            }
        }
    }

    /// The end of one transfer coding of a `Transfer-Encoding` list; empty elements are
    /// ignored (RFC 9110 §5.6.1).
    fn coding_end(&mut self) -> Result<(), Fault> {
        let head = &mut self.head;
        if head.coding_len > 0 {
            let chunked = head.coding_is_chunked && head.coding_len == CHUNKED.len();
            if chunked {
                if head.chunked_seen {
                    return Err((Part::Header, "chunked applied more than once"));
                }
                head.chunked_seen = true;
            }
            head.final_chunked = chunked;
        }
        head.coding_len = 0;
        head.coding_is_chunked = true;
        head.coding_ws = false;
        Ok(())
    }

    /// At the LF that ends the head: where the body ends (RFC 9112 §6.3).
    fn head_end(&mut self) -> Result<(), Fault> {
        if self.head.encoding_seen {
            if !self.head.final_chunked {
                return Err((Part::Header, "final transfer coding is not chunked"));
            }
            self.chunk = ChunkLine::default();
            self.state = State::ChunkSize;
        } else {
            match self.head.length {
                Some(n) if n > 0 => self.state = State::Body(n),
                _ => self.message_done(),
            }
        }
        Ok(())
    }

    /// A byte of a chunk size, or what follows it.
    fn chunk_size_byte(&mut self, b: u8) -> Result<(), Fault> {
        if let Some(digit) = hex_value(b) {
            if self.chunk.digits == MAX_CHUNK_SIZE_DIGITS {
                return Err((Part::ChunkSize, "chunk size over 16 hex digits"));
            }
            self.chunk.digits += 1;
            self.chunk.size = (self.chunk.size << 4) | u64::from(digit);
            return Ok(());
        }
        if self.chunk.digits == 0 {
            return Err((Part::ChunkSize, "missing chunk size"));
        }
        match b {
            CR => self.state = State::ChunkSizeLf,
            LF => return Err((Part::ChunkSize, "bare LF")),
            b' ' | b'\t' => {
                self.chunk_extension_room()?;
                self.state = State::ChunkSizeBws;
            }
            b';' => {
                self.chunk_extension_room()?;
                self.state = State::ChunkExtension;
            }
            _ => return Err((Part::ChunkSize, "invalid character in chunk size")),
        }
        Ok(())
    }

    /// Counts one byte after a chunk size against the extension limit.
    fn chunk_extension_room(&mut self) -> Result<(), Fault> {
        self.chunk.extensions += 1;
        if self.chunk.extensions > MAX_CHUNK_EXTENSIONS {
            return Err((Part::ChunkSize, "chunk extensions too long"));
        }
        Ok(())
    }

    /// The request is complete; the next byte starts the next one.
    fn message_done(&mut self) {
        self.state = State::BeforeRequest;
        self.section_len = 0;
        self.head = HeadFraming::default();
    }
}

/// `left` bytes, or `available` if fewer.
fn bounded(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

/// Whether a field name whose first `at` bytes matched `target` (case-insensitively) still
/// matches it after `run`.
fn name_continues(target: &[u8], at: usize, run: &[u8]) -> bool {
    at.checked_add(run.len())
        .and_then(|end| target.get(at..end))
        .is_some_and(|expected| expected.eq_ignore_ascii_case(run))
}

/// [`tchar`] for every byte value, looked up instead of tested on the hot path.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = tchar(b as u8);
        b += 1;
    }
    table
};

/// [`plain_value`] for every byte value.
const PLAIN_VALUE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = plain_value(b as u8);
        b += 1;
    }
    table
};

/// A token character (RFC 9110 §5.6.2), which field names are made of.
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// A field-value byte: HTAB, SP, VCHAR or obs-text (RFC 9110 §5.5).
fn is_plain_value(b: u8) -> bool {
    PLAIN_VALUE[usize::from(b)]
}

/// See [`is_tchar`].
const fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// See [`is_plain_value`].
const fn plain_value(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b <= b'~') || b >= 0x80
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 8192;

    /// The issue's exploit: a chunked request whose trailer line ends in a bare LF, then a
    /// pipelined request whose body is a request of its own.
    const SMUGGLE: &[u8] = b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n\
POST /fn/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\nGET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n";

    /// What a violation is reduced to for comparison: absolute offset, part and reason.
    type Found = (usize, Part, &'static str);

    /// Feeds `pieces` in order; the absolute offset of the violation if any.
    fn feed_pieces(max_head: usize, pieces: &[&[u8]]) -> Result<(), Found> {
        let mut framing = RequestFraming::new(max_head);
        let mut before = 0;
        for piece in pieces {
            if let Err(v) = framing.inspect(piece) {
                assert!(v.offset < piece.len(), "offset {} past its input", v.offset);
                return Err((before + v.offset, v.part, v.reason));
            }
            before += piece.len();
        }
        Ok(())
    }

    fn whole(bytes: &[u8]) -> Result<(), Found> {
        feed_pieces(MAX, &[bytes])
    }

    fn byte_by_byte(max_head: usize, bytes: &[u8]) -> Result<(), Found> {
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        feed_pieces(max_head, &pieces)
    }

    /// The outcome of `bytes` fed whole, checked to be the same fed byte by byte and split in
    /// two at every position.
    fn every_split(max_head: usize, bytes: &[u8]) -> Result<(), Found> {
        let expected = feed_pieces(max_head, &[bytes]);
        assert_eq!(byte_by_byte(max_head, bytes), expected, "byte by byte");
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(feed_pieces(max_head, &[a, b]), expected, "split at {cut}");
        }
        expected
    }

    fn check(bytes: &[u8]) -> Result<(), Found> {
        every_split(MAX, bytes)
    }

    /// Asserts that `bytes` fail at the first occurrence of `marker` plus `plus`.
    fn assert_fails_at(bytes: &[u8], marker: &[u8], plus: usize, part: Part, reason: &str) {
        let at = find(bytes, marker) + plus;
        assert_eq!(
            check(bytes),
            Err((at, part, reason)),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("marker in input")
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    // --- the issue ---------------------------------------------------------------------------

    #[test]
    fn smuggling_trailer_with_bare_lf_is_refused_at_the_lf() {
        let lf = find(SMUGGLE, b"X: y\n") + 4;
        assert_eq!(SMUGGLE[lf], b'\n');
        let v = RequestFraming::new(MAX).inspect(SMUGGLE).unwrap_err();
        assert_eq!(
            v,
            Violation {
                offset: lf,
                part: Part::Trailer,
                reason: "bare LF"
            }
        );
    }

    #[test]
    fn smuggling_fed_one_byte_at_a_time() {
        let lf = find(SMUGGLE, b"X: y\n") + 4;
        let mut framing = RequestFraming::new(MAX);
        let mut failed = None;
        for (i, byte) in SMUGGLE.iter().enumerate() {
            if let Err(v) = framing.inspect(std::slice::from_ref(byte)) {
                assert_eq!(v.offset, 0);
                failed = Some((i + v.offset, v.part));
                break;
            }
        }
        assert_eq!(failed, Some((lf, Part::Trailer)));
    }

    #[test]
    fn smuggling_split_in_two_at_every_position() {
        let lf = find(SMUGGLE, b"X: y\n") + 4;
        for cut in 0..=SMUGGLE.len() {
            let (a, b) = SMUGGLE.split_at(cut);
            let mut framing = RequestFraming::new(MAX);
            let absolute = match framing.inspect(a) {
                Err(v) => v.offset,
                Ok(()) => a.len() + framing.inspect(b).unwrap_err().offset,
            };
            assert_eq!(absolute, lf, "split at {cut}");
        }
    }

    #[test]
    fn the_same_request_with_a_crlf_trailer_passes() {
        let fixed = concat(&[
            b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n",
            b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\nGET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n",
        ]);
        assert_eq!(check(&fixed), Ok(()));
    }

    // --- valid streams ---------------------------------------------------------------------

    #[test]
    fn get_without_body_then_next_request() {
        let stream = b"GET /fn/a HTTP/1.1\r\nHost: x\r\n\r\nGET /fn/b HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
        // A GET has no body: a request right after its head is a request, not a body.
        let bad = b"GET /fn/a HTTP/1.1\r\nHost: x\r\n\r\nGET /fn/b HTTP/1.1\nHost: x\r\n\r\n";
        assert_fails_at(bad, b"1\nHost", 1, Part::RequestLine, "bare LF");
    }

    #[test]
    fn post_with_content_length_body_of_any_bytes() {
        let stream = b"POST /fn/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n\n\r\0\r\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
        // With one body byte fewer, the body's last byte is a bare LF before a request line.
        let short = b"POST /fn/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n\n\r\0\r\r\nGET / HTTP/1.1\r\n\r\n";
        assert_fails_at(short, b"\r\0\r\r\n", 4, Part::RequestLine, "bare LF");
    }

    #[test]
    fn content_length_zero_has_no_body() {
        let stream = b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let stream = b"POST /fn/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
5;name=value;q=\"a b\"\r\nhello\r\n\
A \t; ext\r\n0123456789\r\n\
1;\x01\x7f\xff\r\n\n\r\n\
000;last\r\nX-Checksum: abc\r\nX-Other:\t v \t\r\n\r\n\
GET /next HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn chunked_without_trailers_and_with_uppercase_hex() {
        let stream = b"POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\nfF\r\n";
        let data = [b'z'; 0xff];
        let rest = b"\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(&concat(&[stream, &data, rest])), Ok(()));
    }

    #[test]
    fn sixteen_hex_digits_are_enough() {
        let stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000003\r\nabc\r\n0000000000000000\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
        let mut framing = RequestFraming::new(MAX);
        let huge = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n";
        assert_eq!(framing.inspect(huge), Ok(()));
        assert_eq!(framing.inspect(&[0; 4096]), Ok(()));
    }

    #[test]
    fn leading_empty_lines_before_request_lines() {
        let stream = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn three_requests_back_to_back() {
        let stream = concat(&[
            b"GET /fn/a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /fn/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            b"POST /fn/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ]);
        assert_eq!(check(&stream), Ok(()));
        // And the stream ends exactly at a request boundary: a stray LF is a new violation.
        let mut framing = RequestFraming::new(MAX);
        assert_eq!(framing.inspect(&stream), Ok(()));
        assert_eq!(framing.inspect(b"\n").unwrap_err().part, Part::RequestLine);
    }

    #[test]
    fn content_length_lists_and_repeats_of_one_number() {
        for head in [
            &b"Content-Length: 5, 5\r\n"[..],
            b"Content-Length: 5,5 , 5\r\n",
            b"Content-Length: 5\r\ncontent-length:5\r\n",
            b"CONTENT-LENGTH: \t5 \t\r\n",
            b"Content-Length: 005\r\n",
        ] {
            let stream = concat(&[
                b"POST / HTTP/1.1\r\n",
                head,
                b"\r\nhelloGET / HTTP/1.1\r\n\r\n",
            ]);
            assert_eq!(check(&stream), Ok(()), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn largest_content_length_is_accepted() {
        let mut framing = RequestFraming::new(MAX);
        let head = b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n";
        assert_eq!(framing.inspect(head), Ok(()));
        assert_eq!(framing.inspect(b"\n\n\n\0"), Ok(()));
    }

    #[test]
    fn transfer_codings_ending_in_chunked() {
        for head in [
            &b"Transfer-Encoding: gzip, chunked\r\n"[..],
            b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            b"Transfer-Encoding: ,gzip ,, Chunked ,\r\n",
            b"TRANSFER-ENCODING:chunked\r\n",
        ] {
            let stream = concat(&[
                b"POST / HTTP/1.1\r\n",
                head,
                b"\r\n2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            ]);
            assert_eq!(check(&stream), Ok(()), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn http10_with_content_length_and_lookalike_versions() {
        let stream = b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.0\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
        // Only the version at the end of the request line counts.
        let stream = b"POST /HTTP/1.0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn upgrade_and_connect_are_framed_like_any_request() {
        let stream = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\
CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
        let bad = b"CONNECT example.com:443 HTTP/1.1\r\n\r\n\x16\x03\x01\n";
        assert_fails_at(bad, b"\x16\x03\x01\n", 3, Part::RequestLine, "bare LF");
    }

    #[test]
    fn request_line_is_not_judged_beyond_line_endings() {
        // hyper decides about methods and targets; only CR and LF matter here.
        let stream = b"\x00\x7f \t\xff HTTP/9.9\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn empty_stream_and_empty_inputs() {
        let mut framing = RequestFraming::new(MAX);
        assert_eq!(framing.inspect(b""), Ok(()));
        assert_eq!(framing.inspect(b"GET / HTTP/1.1\r"), Ok(()));
        assert_eq!(framing.inspect(b""), Ok(()));
        assert_eq!(framing.inspect(b"\n\r"), Ok(()));
        assert_eq!(framing.inspect(b"\n"), Ok(()));
    }

    #[test]
    fn large_content_length_body_in_one_mib_slices_costs_one_step_per_call() {
        const MIB: usize = 1 << 20;
        const SLICES: usize = 1024;
        let body_len = MIB * SLICES;
        let head =
            format!("POST /fn/big HTTP/1.1\r\nHost: x\r\nContent-Length: {body_len}\r\n\r\n");
        // Bytes that would be violations anywhere but in a body.
        let slice = vec![b'\n'; MIB];
        let mut framing = RequestFraming::new(MAX);
        assert_eq!(framing.inspect(head.as_bytes()), Ok(()));
        let after_head = framing.steps;
        for _ in 0..SLICES {
            assert_eq!(framing.inspect(&slice), Ok(()));
        }
        assert_eq!(
            framing.steps - after_head,
            SLICES,
            "body bytes were looked at one by one"
        );
        // The body ends exactly after its last byte, even inside a call.
        let mut last = vec![b'\n'; 7];
        last.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let mut framing = RequestFraming::new(MAX);
        let head = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body_len + 7
        );
        assert_eq!(framing.inspect(head.as_bytes()), Ok(()));
        for _ in 0..SLICES {
            assert_eq!(framing.inspect(&slice), Ok(()));
        }
        assert_eq!(framing.inspect(&last), Ok(()));
        assert_eq!(framing.inspect(b"\n").unwrap_err().part, Part::RequestLine);
    }

    #[test]
    fn large_chunk_data_costs_one_step_per_call() {
        const MIB: usize = 1 << 20;
        let mut framing = RequestFraming::new(MAX);
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4000000\r\n";
        assert_eq!(framing.inspect(head), Ok(()));
        let after_head = framing.steps;
        let slice = vec![b'\r'; MIB];
        for _ in 0..64 {
            assert_eq!(framing.inspect(&slice), Ok(()));
        }
        assert_eq!(framing.steps - after_head, 64);
        assert_eq!(framing.inspect(b"\r\n0\r\n\r\n"), Ok(()));
        let v = framing.inspect(b"x\n").unwrap_err();
        assert_eq!((v.offset, v.part), (1, Part::RequestLine));
    }

    #[test]
    fn long_field_values_and_request_lines_are_searched_not_stepped() {
        let mut framing = RequestFraming::new(1 << 20);
        let target = vec![b'a'; 100_000];
        let value = vec![b'v'; 100_000];
        let stream = concat(&[b"GET /", &target, b" HTTP/1.1\r\nA: ", &value, b"\r\n\r\n"]);
        assert_eq!(framing.inspect(&stream), Ok(()));
        assert!(framing.steps < 100, "{} steps", framing.steps);
    }

    // --- line endings ------------------------------------------------------------------------

    #[test]
    fn bare_lf_in_request_line() {
        assert_fails_at(
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            b"\n",
            0,
            Part::RequestLine,
            "bare LF",
        );
    }

    #[test]
    fn bare_lf_as_empty_line_before_request_line() {
        assert_fails_at(
            b"\r\n\nGET / HTTP/1.1\r\n\r\n",
            b"\n\nGET",
            1,
            Part::RequestLine,
            "bare LF",
        );
    }

    #[test]
    fn bare_lf_in_header() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n",
            b"x\n",
            1,
            Part::Header,
            "bare LF",
        );
        // The head's final empty line.
        assert_fails_at(
            b"GET / HTTP/1.1\r\nHost: x\r\n\nGET",
            b"\r\n\n",
            2,
            Part::Header,
            "bare LF",
        );
        // The line ending of a framing field.
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 5\nA: b\r\n\r\n",
            b"5\n",
            1,
            Part::Header,
            "bare LF",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\n\r\n",
            b"chunked\n",
            7,
            Part::Header,
            "bare LF",
        );
    }

    #[test]
    fn bare_lf_in_chunk_size_line() {
        let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_fails_at(
            &concat(&[te, b"5\nhello\r\n0\r\n\r\n"]),
            b"5\n",
            1,
            Part::ChunkSize,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"5;a=b\nhello\r\n"]),
            b"b\n",
            1,
            Part::ChunkSize,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"5 \nhello\r\n"]),
            b" \n",
            1,
            Part::ChunkSize,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"0\n\r\n"]),
            b"0\n",
            1,
            Part::ChunkSize,
            "bare LF",
        );
    }

    #[test]
    fn bare_lf_after_chunk_data() {
        let stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n";
        assert_fails_at(
            stream,
            b"hello\n",
            5,
            Part::ChunkData,
            "bare LF after chunk data",
        );
    }

    #[test]
    fn bare_lf_in_trailer() {
        let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
        assert_fails_at(
            &concat(&[te, b"A: b\r\nX: y\n\r\n"]),
            b"y\n",
            1,
            Part::Trailer,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"\n"]),
            b"0\r\n\n",
            3,
            Part::Trailer,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"A: b\r\n\n"]),
            b"b\r\n\n",
            3,
            Part::Trailer,
            "bare LF",
        );
        assert_fails_at(
            &concat(&[te, b"A\n"]),
            b"A\n",
            1,
            Part::Trailer,
            "field line without colon",
        );
    }

    #[test]
    fn bare_cr_anywhere_outside_bodies() {
        // A bare CR is reported at the byte after it.
        let cases: [(&[u8], &[u8], Part, &str); 9] = [
            (
                b"\rGET / HTTP/1.1\r\n\r\n",
                b"\rG",
                Part::RequestLine,
                "bare CR",
            ),
            (
                b"GET /\r HTTP/1.1\r\n\r\n",
                b"\r ",
                Part::RequestLine,
                "bare CR",
            ),
            (
                b"GET / HTTP/1.1\r\r\n\r\n",
                b"\r\r",
                Part::RequestLine,
                "bare CR",
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
                b"\rc",
                Part::Header,
                "bare CR",
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\r\n\rX",
                b"\rX",
                Part::Header,
                "bare CR",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n",
                b"\rh",
                Part::ChunkSize,
                "bare CR",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX",
                b"\rX",
                Part::ChunkData,
                "bare CR after chunk data",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\r\n\r\n",
                b"y\r\r",
                Part::Trailer,
                "bare CR",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\rG",
                b"\rG",
                Part::Trailer,
                "bare CR",
            ),
        ];
        for (stream, marker, part, reason) in cases {
            let plus = marker.len() - 1;
            assert_fails_at(stream, marker, plus, part, reason);
        }
    }

    #[test]
    fn bare_cr_with_the_header_field_name() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\nHost\r: x\r\n\r\n",
            b"\r:",
            0,
            Part::Header,
            "field line without colon",
        );
    }

    // --- field lines ---------------------------------------------------------------------------

    #[test]
    fn obsolete_line_folding_in_head_and_trailer() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
            b"\r\n c",
            2,
            Part::Header,
            "obsolete line folding",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
            b"\r\n\tc",
            2,
            Part::Header,
            "obsolete line folding",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n",
            b"\r\n c",
            2,
            Part::Trailer,
            "obsolete line folding",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n A: b\r\n\r\n",
            b" A",
            0,
            Part::Trailer,
            "obsolete line folding",
        );
    }

    #[test]
    fn whitespace_between_request_line_and_first_field() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
            b" Host",
            0,
            Part::Header,
            "whitespace before the first field line",
        );
    }

    #[test]
    fn field_line_without_colon() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            b"\r\n\r\n",
            0,
            Part::Header,
            "field line without colon",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer\r\n\r\n",
            b"r\r\n\r\n",
            1,
            Part::Trailer,
            "field line without colon",
        );
    }

    #[test]
    fn field_names_must_be_tokens_right_before_the_colon() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
            b" :",
            0,
            Part::Header,
            "invalid character in field name",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\n: x\r\n\r\n",
            b": x",
            0,
            Part::Header,
            "empty field name",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA\"b: x\r\n\r\n",
            b"\"",
            0,
            Part::Header,
            "invalid character in field name",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\n\x00: x\r\n\r\n",
            b"\x00",
            0,
            Part::Header,
            "invalid character in field name",
        );
    }

    #[test]
    fn nul_and_other_controls_in_a_value() {
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            b"\x00",
            0,
            Part::Header,
            "control character in field value",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA: \x7f\r\n\r\n",
            b"\x7f",
            0,
            Part::Header,
            "control character in field value",
        );
        assert_fails_at(
            b"GET / HTTP/1.1\r\nA: \x1b\r\n\r\n",
            b"\x1b",
            0,
            Part::Header,
            "control character in field value",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 1\x00\r\n\r\n",
            b"\x00",
            0,
            Part::Header,
            "control character in field value",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: \x00\r\n\r\n",
            b"\x00",
            0,
            Part::Trailer,
            "control character in field value",
        );
        // HTAB and obs-text are allowed.
        assert_eq!(check(b"GET / HTTP/1.1\r\nA: \tb\xe9\xff\t\r\n\r\n"), Ok(()));
    }

    // --- Transfer-Encoding and Content-Length ----------------------------------------------------

    #[test]
    fn transfer_encoding_with_content_length() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"h: 3",
            1,
            Part::Header,
            "both Transfer-Encoding and Content-Length",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            b"g: chunked",
            1,
            Part::Header,
            "both Transfer-Encoding and Content-Length",
        );
    }

    #[test]
    fn transfer_encoding_not_ending_in_chunked() {
        for head in [
            &b"Transfer-Encoding: gzip\r\n"[..],
            b"Transfer-Encoding: chunked, gzip\r\n",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
            b"Transfer-Encoding: chunk ed\r\n",
            b"Transfer-Encoding: chunkedx\r\n",
            b"Transfer-Encoding: chunked;q=1\r\n",
            b"Transfer-Encoding: \"chunked\"\r\n",
            b"Transfer-Encoding:\r\n",
            b"Transfer-Encoding: identity\r\n",
        ] {
            let stream = concat(&[b"POST / HTTP/1.1\r\n", head, b"\r\n0\r\n\r\n"]);
            let end = head.len() + b"POST / HTTP/1.1\r\n\r".len();
            assert_eq!(
                check(&stream),
                Err((end, Part::Header, "final transfer coding is not chunked")),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn chunked_applied_twice() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            b", chunked\r",
            9,
            Part::Header,
            "chunked applied more than once",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip, CHUNKED \r\n\r\n",
            b"CHUNKED \r",
            8,
            Part::Header,
            "chunked applied more than once",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked,chunked,gzip\r\n\r\n",
            b",chunked,",
            8,
            Part::Header,
            "chunked applied more than once",
        );
    }

    #[test]
    fn transfer_encoding_in_http10() {
        assert_fails_at(
            b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"g: chunked",
            1,
            Part::Header,
            "Transfer-Encoding in an HTTP/1.0 request",
        );
    }

    #[test]
    fn content_length_list_or_repeat_with_different_numbers() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello",
            b"6\r",
            1,
            Part::Header,
            "conflicting Content-Length values",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello",
            b"50\r",
            2,
            Part::Header,
            "conflicting Content-Length values",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 5 ,6 , 5\r\n\r\nhello",
            b"6 ",
            1,
            Part::Header,
            "conflicting Content-Length values",
        );
    }

    #[test]
    fn content_length_not_digits() {
        let cases: [(&[u8], usize); 9] = [
            (b"+5", 0),
            (b"-5", 0),
            (b"5a", 1),
            (b"0x5", 1),
            (b"5 5", 2),
            (b"5,", 2),
            (b",5", 0),
            (b"5,,5", 2),
            (b"\"5\"", 0),
        ];
        for (value, at) in cases {
            let stream = concat(&[
                b"POST / HTTP/1.1\r\nContent-Length: ",
                value,
                b"\r\n\r\nhello",
            ]);
            let offset = b"POST / HTTP/1.1\r\nContent-Length: ".len() + at;
            let reason = if value == b"5," {
                "empty Content-Length or list element"
            } else {
                "Content-Length is not 1*DIGIT"
            };
            assert_eq!(
                check(&stream),
                Err((offset, Part::Header, reason)),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: \t \r\n\r\n",
            b"\t \r",
            2,
            Part::Header,
            "empty Content-Length or list element",
        );
    }

    #[test]
    fn content_length_over_64_bits() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
            b"16\r",
            1,
            Part::Header,
            "Content-Length over 64 bits",
        );
        // Leading zeros do not overflow.
        let stream =
            b"POST / HTTP/1.1\r\nContent-Length: 000000000000000000000000000000002\r\n\r\nhi";
        assert_eq!(check(stream), Ok(()));
    }

    #[test]
    fn lookalike_field_names_do_not_frame() {
        // `Content-Lengths` and `Transfer-Encodings` are other fields: no body, no chunks.
        let stream = b"POST / HTTP/1.1\r\nContent-Lengths: 5\r\nTransfer-Encodings: gzip\r\nContent-Lengt: x\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(check(stream), Ok(()));
    }

    // --- sizes ---------------------------------------------------------------------------------

    #[test]
    fn head_too_large() {
        let stream = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let n = stream.len();
        assert_eq!(every_split(n, stream), Ok(()));
        assert_eq!(
            every_split(n - 1, stream),
            Err((n - 1, Part::Header, "head too large"))
        );
        assert_eq!(
            every_split(10, stream),
            Err((10, Part::RequestLine, "head too large"))
        );
        // Each head has its own budget.
        let two = concat(&[stream, stream]);
        assert_eq!(every_split(n, &two), Ok(()));
        // Empty lines before the request line count towards it.
        let padded = concat(&[b"\r\n", stream]);
        assert_eq!(
            every_split(n + 1, &padded),
            Err((n + 1, Part::Header, "head too large"))
        );
        assert_eq!(
            every_split(1, b"\r\n\r\n"),
            Err((1, Part::RequestLine, "head too large"))
        );
        // A long field value.
        let long = concat(&[b"GET / HTTP/1.1\r\nA: ", &[b'a'; 100], b"\r\n\r\n"]);
        assert_eq!(
            every_split(60, &long),
            Err((60, Part::Header, "head too large"))
        );
    }

    #[test]
    fn trailers_too_large() {
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let trailers = b"X-A: 0123456789\r\nX-B: 0123456789012345678901234567890\r\n\r\n";
        assert!(trailers.len() > head.len());
        let stream = concat(&[head, b"1\r\nx\r\n0\r\n", trailers]);
        // The trailer section has its own budget, separate from the head's.
        assert_eq!(every_split(trailers.len(), &stream), Ok(()));
        assert_eq!(
            every_split(trailers.len() - 1, &stream),
            Err((stream.len() - 1, Part::Trailer, "trailers too large"))
        );
        // A request after it has a fresh head budget.
        let two = concat(&[&stream, head, b"0\r\n\r\n"]);
        assert_eq!(every_split(trailers.len(), &two), Ok(()));
    }

    #[test]
    fn chunk_size_of_seventeen_hex_digits() {
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello",
            0,
            Part::ChunkSize,
            "chunk size over 16 hex digits",
        );
        assert_fails_at(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            b"0\r\n",
            0,
            Part::ChunkSize,
            "chunk size over 16 hex digits",
        );
    }

    #[test]
    fn chunk_size_line_syntax() {
        let te: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let cases: [(&[u8], usize, &str); 8] = [
            (b"\r\n", 0, "missing chunk size"),
            (b";a\r\n", 0, "missing chunk size"),
            (b" 5\r\n", 0, "missing chunk size"),
            (b"+5\r\n", 0, "missing chunk size"),
            (b"5x\r\n", 1, "invalid character in chunk size"),
            (
                b"5 \r\n",
                2,
                "whitespace after a chunk size not followed by an extension",
            ),
            (
                b"5 6\r\n",
                2,
                "whitespace after a chunk size not followed by an extension",
            ),
            (b"5;a\x00\r\n", 3, "NUL in chunk extension"),
        ];
        for (line, at, reason) in cases {
            let stream = concat(&[te, line, b"hello\r\n0\r\n\r\n"]);
            assert_eq!(
                check(&stream),
                Err((te.len() + at, Part::ChunkSize, reason)),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let ok = concat(&[te, b"5 \t ;a = b ; c\r\nhello\r\n0\r\n\r\n"]);
        assert_eq!(check(&ok), Ok(()));
    }

    #[test]
    fn chunk_extensions_too_long() {
        let te: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let fits = concat(&[
            te,
            b"1;",
            &[b'a'; MAX_CHUNK_EXTENSIONS - 1],
            b"\r\nx\r\n0\r\n\r\n",
        ]);
        assert_eq!(whole(&fits), Ok(()));
        assert_eq!(byte_by_byte(MAX, &fits), Ok(()));
        let long = concat(&[
            te,
            b"1;",
            &[b'a'; MAX_CHUNK_EXTENSIONS],
            b"\r\nx\r\n0\r\n\r\n",
        ]);
        let at = te.len() + 1 + MAX_CHUNK_EXTENSIONS;
        let expected = Err((at, Part::ChunkSize, "chunk extensions too long"));
        assert_eq!(whole(&long), expected);
        assert_eq!(byte_by_byte(MAX, &long), expected);
        assert_eq!(
            feed_pieces(MAX, &[&long[..at - 3], &long[at - 3..]]),
            expected
        );
        // Whitespace before the `;` counts too.
        let spaces = concat(&[te, b"1", &[b' '; MAX_CHUNK_EXTENSIONS + 1], b";a\r\n"]);
        let at = te.len() + 1 + MAX_CHUNK_EXTENSIONS;
        assert_eq!(
            whole(&spaces),
            Err((at, Part::ChunkSize, "chunk extensions too long"))
        );
    }

    #[test]
    fn missing_crlf_after_chunk_data() {
        let stream =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n";
        assert_fails_at(
            stream,
            b"lo\r\n",
            0,
            Part::ChunkData,
            "chunk data longer than its size",
        );
        let stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n";
        assert_fails_at(
            stream,
            b"0\r\n\r\n",
            0,
            Part::ChunkData,
            "chunk data longer than its size",
        );
    }

    // --- after a violation -------------------------------------------------------------------------

    #[test]
    fn every_call_after_an_error_fails() {
        let mut framing = RequestFraming::new(MAX);
        let first = framing.inspect(SMUGGLE).unwrap_err();
        for input in [&b""[..], b"GET / HTTP/1.1\r\n\r\n", b"\r\n"] {
            let again = framing.inspect(input).unwrap_err();
            assert_eq!(again.offset, 0);
            assert_eq!((again.part, again.reason), (first.part, first.reason));
        }
        assert!(first.to_string().contains("bare LF"));
    }

    // --- random streams ----------------------------------------------------------------------------

    /// xorshift64*: deterministic test randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
        fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
            items[self.below(items.len())]
        }
        fn random_case(&mut self, s: &[u8]) -> Vec<u8> {
            s.iter()
                .map(|b| {
                    if self.chance(50) {
                        b.to_ascii_uppercase()
                    } else {
                        *b
                    }
                })
                .collect()
        }
        fn ows(&mut self) -> &'static [u8] {
            self.pick(&[b"", b"", b" ", b"\t", b" \t "])
        }
    }

    /// A random valid stream of pipelined requests, and where the CRs of its line endings
    /// outside bodies are.
    struct Stream {
        bytes: Vec<u8>,
        crlfs: Vec<usize>,
    }

    impl Stream {
        fn push(&mut self, bytes: &[u8]) {
            self.bytes.extend_from_slice(bytes);
        }
        fn crlf(&mut self) {
            self.crlfs.push(self.bytes.len());
            self.push(b"\r\n");
        }
        fn field(&mut self, rng: &mut Rng) {
            let name_chars =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
            self.push(b"x-");
            for _ in 0..rng.below(12) {
                self.bytes.push(name_chars[rng.below(name_chars.len())]);
            }
            self.push(b":");
            let ows = rng.ows();
            self.push(ows);
            for _ in 0..rng.below(30) {
                let b = match rng.below(10) {
                    0 => b'\t',
                    1 => 0x80 + rng.below(128) as u8,
                    _ => b' ' + rng.below(95) as u8,
                };
                self.bytes.push(b);
            }
            self.crlf();
        }
    }

    fn random_stream(rng: &mut Rng) -> Stream {
        let mut s = Stream {
            bytes: Vec::new(),
            crlfs: Vec::new(),
        };
        for _ in 0..1 + rng.below(4) {
            for _ in 0..rng.below(3) {
                s.crlf();
            }
            let method = rng.pick(&[
                b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"CONNECT",
            ]);
            s.push(method);
            s.push(b" /fn/");
            for _ in 0..rng.below(20) {
                s.bytes.push(b'!' + rng.below(94) as u8);
            }
            let framing = rng.below(3); // 0: none, 1: Content-Length, 2: chunked
            let http10 = framing != 2 && rng.chance(20);
            s.push(if http10 { b" HTTP/1.0" } else { b" HTTP/1.1" });
            s.crlf();
            let fields = rng.below(5);
            let framing_at = rng.below(fields + 1);
            let body_len = rng.below(300);
            for i in 0..=fields {
                if i == framing_at {
                    match framing {
                        1 => {
                            let name = rng.random_case(b"content-length");
                            let lines = 1 + rng.below(2);
                            for _ in 0..lines {
                                s.push(&name);
                                s.push(b":");
                                let mut value = format!("{body_len}");
                                if rng.chance(20) {
                                    value = format!("{body_len}, {body_len}");
                                }
                                let (a, b) = (rng.ows(), rng.ows());
                                s.push(a);
                                s.push(value.as_bytes());
                                s.push(b);
                                s.crlf();
                            }
                        }
                        2 => {
                            let name = rng.random_case(b"transfer-encoding");
                            if rng.chance(30) {
                                s.push(&name);
                                s.push(b": gzip");
                                s.crlf();
                            }
                            s.push(&name);
                            s.push(b":");
                            let ows = rng.ows();
                            s.push(ows);
                            let chunked = rng.random_case(b"chunked");
                            s.push(&chunked);
                            let ows = rng.ows();
                            s.push(ows);
                            s.crlf();
                        }
                        _ => {}
                    }
                }
                if i < fields {
                    s.field(rng);
                }
            }
            s.crlf();
            let body = |s: &mut Stream, n: usize, rng: &mut Rng| {
                for _ in 0..n {
                    s.bytes
                        .push(rng.pick(&[b"\r", b"\n", b"\0", b"a", b"0"])[0]);
                }
            };
            match framing {
                1 => body(&mut s, body_len, rng),
                2 => {
                    for _ in 0..rng.below(4) {
                        let n = 1 + rng.below(200);
                        let zeros = "0".repeat(rng.below(3));
                        let hex = if rng.chance(50) {
                            format!("{zeros}{n:x}")
                        } else {
                            format!("{zeros}{n:X}")
                        };
                        s.push(hex.as_bytes());
                        if rng.chance(30) {
                            let bws = rng.ows();
                            s.push(bws);
                            s.push(b";ext=\"v a l\"; x");
                        }
                        s.crlf();
                        body(&mut s, n, rng);
                        s.crlf();
                    }
                    s.push(rng.pick(&[b"0", b"000"]));
                    if rng.chance(20) {
                        s.push(b";last");
                    }
                    s.crlf();
                    for _ in 0..rng.below(3) {
                        s.field(rng);
                    }
                    s.crlf();
                }
                _ => {}
            }
        }
        s
    }

    fn random_pieces<'a>(rng: &mut Rng, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = (0..rng.below(8))
            .map(|_| rng.below(bytes.len() + 1))
            .collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        cuts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
    }

    #[test]
    fn random_valid_streams_split_anywhere_pass() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let s = random_stream(&mut rng);
            let text = String::from_utf8_lossy(&s.bytes).into_owned();
            assert_eq!(
                feed_pieces(1 << 16, &[&s.bytes]),
                Ok(()),
                "round {round}: {text:?}"
            );
            for _ in 0..4 {
                let pieces = random_pieces(&mut rng, &s.bytes);
                assert_eq!(
                    feed_pieces(1 << 16, &pieces),
                    Ok(()),
                    "round {round}: {text:?}"
                );
            }
            if round % 50 == 0 {
                assert_eq!(
                    byte_by_byte(1 << 16, &s.bytes),
                    Ok(()),
                    "round {round}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn random_streams_with_one_bare_lf_or_cr_fail_exactly_there() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for round in 0..3000 {
            let s = random_stream(&mut rng);
            let cr = s.crlfs[rng.below(s.crlfs.len())];
            let mut bytes = s.bytes.clone();
            let expected_at = if rng.chance(50) {
                // Drop the CR: its LF is now bare, where the CR was.
                bytes.remove(cr);
                cr
            } else {
                // Drop the LF: the CR is bare, found at the byte after it.
                bytes[cr + 1] = b'X';
                cr + 1
            };
            let pieces = random_pieces(&mut rng, &bytes);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match feed_pieces(1 << 16, &pieces) {
                Err((at, _, reason)) => {
                    assert_eq!(at, expected_at, "round {round}: {reason}: {text:?}");
                }
                Ok(()) => panic!("round {round}: not refused: {text:?}"),
            }
        }
    }
}
