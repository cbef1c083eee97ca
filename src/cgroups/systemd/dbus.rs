//! A minimal synchronous D-Bus client: just enough to call systemd's
//! manager on the system bus and wait for one of its signals.
//!
//! Why not a crate: zbus (the well-kept pure-Rust client) is async at heart;
//! its blocking API runs an executor thread and pulls in a few dozen crates,
//! for the four method calls and one signal the systemd cgroup driver needs.
//! The wire protocol for those is small and fixed (the D-Bus specification,
//! "Message Protocol"), so this module speaks it directly, as youki does:
//! little-endian messages over the system bus socket, `AUTH EXTERNAL` with
//! the uid, `Hello`, and a [`Value`] type for the signatures systemd's
//! properties use. No `unsafe`, no threads, no new dependency.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A D-Bus value, with enough type information to marshal it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `t`
    U64(u64),
    /// `s`
    Str(String),
    /// `o`
    Path(String),
    /// `g`
    Sig(String),
    /// `a` + the element signature, and the elements.
    Array(String, Vec<Value>),
    /// `(...)`
    Struct(Vec<Value>),
    /// `v`
    Variant(Box<Value>),
}

impl Value {
    /// This value's type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::Variant(_) => "v".into(),
        }
    }

    /// A string, or None.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }

    /// An unsigned 32-bit integer, or None.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }
}

/// A `(sv)` pair: one named property for systemd.
pub fn prop(name: &str, value: Value) -> Value {
    Value::Struct(vec![Value::Str(name.into()), Value::Variant(Box::new(value))])
}

/// The alignment of the type starting `sig`.
fn align_of(sig: u8) -> usize {
    match sig {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // t x d ( {
    }
}

/// Splits the first complete type off `sig`.
fn split_type(sig: &str) -> Result<(&str, &str), String> {
    let b = sig.as_bytes();
    let end = match b.first() {
        None => return Err("empty signature".into()),
        Some(b'a') => 1 + split_type(&sig[1..])?.0.len(),
        Some(&open @ (b'(' | b'{')) => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut rest = &sig[1..];
            while !rest.starts_with(close as char) {
                rest = split_type(rest)?.1;
            }
            sig.len() - rest.len() + 1
        }
        Some(_) => 1,
    };
    Ok(sig.split_at(end))
}

/// Appends marshalled values to a message buffer. Offsets, and so padding,
/// count from the start of the buffer (the message, or the body, which the
/// header pads to 8).
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I32(i) => self.u32(*i as u32),
            Value::U32(u) => self.u32(*u),
            Value::U64(t) => {
                self.pad(8);
                self.buf.extend_from_slice(&t.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => {
                self.u32(s.len() as u32);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                // The length excludes the padding before the first element.
                self.pad(align_of(elem.as_bytes()[0]));
                let start = self.buf.len();
                for i in items {
                    self.value(i);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.value(&Value::Sig(inner.signature()));
                self.value(inner);
            }
        }
    }
}

/// Reads marshalled values; offsets count from the start of `buf`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self.buf.get(self.pos..self.pos + n).ok_or("message truncated")?;
        self.pos += n;
        Ok(s)
    }

    fn align(&mut self, a: usize) -> Result<(), String> {
        let pad = (a - self.pos % a) % a;
        self.take(pad).map(drop)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.align(4)?;
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    fn string(&mut self, len: usize) -> Result<String, String> {
        let s = String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "string is not UTF-8")?;
        self.take(1)?; // the NUL
        Ok(s)
    }

    /// Reads one value of the complete type `sig`.
    fn value(&mut self, sig: &str) -> Result<Value, String> {
        let b = sig.as_bytes()[0];
        Ok(match b {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'i' => Value::I32(self.u32()? as i32),
            b'u' | b'h' => Value::U32(self.u32()?),
            // Read but not used: 16-bit integers, doubles (as their bits).
            b'n' | b'q' => {
                self.align(2)?;
                let b = self.take(2)?;
                Value::U32(u32::from(u16::from_le_bytes([b[0], b[1]])))
            }
            b't' | b'x' | b'd' => {
                self.align(8)?;
                Value::U64(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
            }
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.string(len)?;
                if b == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Sig(self.string(len)?)
            }
            b'a' => {
                let elem = &sig[1..];
                let len = self.u32()? as usize;
                self.align(align_of(elem.as_bytes()[0]))?;
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                if self.pos != end {
                    return Err("array length does not match its elements".into());
                }
                Value::Array(elem.into(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let mut rest = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                while !rest.is_empty() {
                    let (t, r) = split_type(rest)?;
                    fields.push(self.value(t)?);
                    rest = r;
                }
                Value::Struct(fields)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let inner = self.string(len)?;
                let (t, rest) = split_type(&inner)?;
                if !rest.is_empty() {
                    return Err(format!("variant signature {inner:?} is not one type"));
                }
                Value::Variant(Box::new(self.value(t)?))
            }
            other => return Err(format!("unsupported type {:?}", other as char)),
        })
    }

    /// Reads values for every type in signature `sig`.
    fn values(&mut self, mut sig: &str) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        while !sig.is_empty() {
            let (t, rest) = split_type(sig)?;
            out.push(self.value(t)?);
            sig = rest;
        }
        Ok(out)
    }
}

/// Message types.
pub const METHOD_CALL: u8 = 1;
/// A reply.
pub const METHOD_RETURN: u8 = 2;
/// An error reply.
pub const ERROR: u8 = 3;
/// A signal.
pub const SIGNAL: u8 = 4;

/// One D-Bus message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// METHOD_CALL, METHOD_RETURN, ERROR or SIGNAL.
    pub kind: u8,
    /// Header flags (0x1: no reply expected).
    pub flags: u8,
    /// Set by [`Connection::send`].
    pub serial: u32,
    /// Header fields (absent when empty / 0).
    pub path: String,
    /// `INTERFACE`
    pub interface: String,
    /// `MEMBER`
    pub member: String,
    /// `ERROR_NAME`
    pub error_name: String,
    /// `REPLY_SERIAL`
    pub reply_serial: u32,
    /// `DESTINATION`
    pub destination: String,
    /// `SENDER`
    pub sender: String,
    /// The body.
    pub body: Vec<Value>,
}

impl Message {
    /// A method call.
    pub fn call(destination: &str, path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            kind: METHOD_CALL,
            path: path.into(),
            interface: interface.into(),
            member: member.into(),
            destination: destination.into(),
            body,
            ..Message::default()
        }
    }

    /// The wire form (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Writer::default();
        let mut sig = String::new();
        for v in &self.body {
            body.value(v);
            sig.push_str(&v.signature());
        }
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]);
        let mut fields = Vec::new();
        let strings = [
            (1, &self.path, true),
            (2, &self.interface, false),
            (3, &self.member, false),
            (4, &self.error_name, false),
            (6, &self.destination, false),
            (7, &self.sender, false),
        ];
        for (code, s, is_path) in strings {
            if !s.is_empty() {
                let v = if is_path {
                    Value::Path(s.clone())
                } else {
                    Value::Str(s.clone())
                };
                fields.push(field(code, v));
            }
        }
        if self.reply_serial != 0 {
            fields.push(field(5, Value::U32(self.reply_serial)));
        }
        if !sig.is_empty() {
            fields.push(field(8, Value::Sig(sig)));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', self.kind, self.flags, 1]);
        w.u32(body.buf.len() as u32);
        w.u32(self.serial);
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// How long the message starting with these 16 bytes is in total.
    fn total_len(head: &[u8; 16]) -> Result<usize, String> {
        if head[0] != b'l' {
            return Err("big-endian message (this client speaks only little-endian)".into());
        }
        let body = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let fields = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
        let header = (16 + fields).div_ceil(8) * 8;
        let total = header + body;
        // The specification's maximum message size (128 MiB).
        if total > 1 << 27 {
            return Err(format!("message of {total} bytes"));
        }
        Ok(total)
    }

    /// Parses one complete message.
    pub fn decode(buf: &[u8]) -> Result<Message, String> {
        let mut r = Reader { buf, pos: 0 };
        let head = r.take(4)?.to_vec();
        if head[0] != b'l' {
            return Err("big-endian message".into());
        }
        let body_len = r.u32()? as usize;
        let serial = r.u32()?;
        let mut m = Message {
            kind: head[1],
            flags: head[2],
            serial,
            ..Message::default()
        };
        let Value::Array(_, fields) = r.value("a(yv)")? else {
            return Err("bad header".into());
        };
        let mut sig = String::new();
        for f in fields {
            let Value::Struct(f) = f else { continue };
            let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
                continue;
            };
            let s = v.as_str().unwrap_or_default().to_string();
            match code {
                1 => m.path = s,
                2 => m.interface = s,
                3 => m.member = s,
                4 => m.error_name = s,
                5 => m.reply_serial = v.as_u32().unwrap_or(0),
                6 => m.destination = s,
                7 => m.sender = s,
                8 => sig = s,
                _ => {}
            }
        }
        r.align(8)?;
        let start = r.pos;
        let body = buf.get(start..start + body_len).ok_or("message truncated")?;
        m.body = Reader { buf: body, pos: 0 }.values(&sig)?;
        Ok(m)
    }
}

/// A D-Bus error reply, or a failure to talk to the bus at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusError {
    /// The peer replied with an error (name, message).
    Remote(String, String),
    /// The connection or the protocol failed.
    Io(String),
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::Remote(name, msg) => write!(f, "{name}: {msg}"),
            BusError::Io(msg) => f.write_str(msg),
        }
    }
}

/// A connection to a message bus.
#[derive(Debug)]
pub struct Connection {
    stream: BufReader<UnixStream>,
    serial: u32,
    /// Signals read while waiting for a reply.
    queued: VecDeque<Message>,
}

/// How long any single reply may take.
const TIMEOUT: Duration = Duration::from_secs(25);

impl Connection {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS` if it is a
    /// `unix:path=`, else /run/dbus/system_bus_socket), authenticates as
    /// our uid and says Hello.
    pub fn system() -> Result<Connection, BusError> {
        let path = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .and_then(|a| {
                a.strip_prefix("unix:path=")
                    .map(|p| p.split(',').next().unwrap_or(p).to_string())
            })
            .unwrap_or_else(|| "/run/dbus/system_bus_socket".into());
        let stream =
            UnixStream::connect(&path).map_err(|e| BusError::Io(format!("connecting to {path}: {e}")))?;
        let io = |e: std::io::Error| BusError::Io(format!("system bus: {e}"));
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        let mut c = Connection {
            stream: BufReader::new(stream),
            serial: 0,
            queued: VecDeque::new(),
        };
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let s = c.stream.get_mut();
        s.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
            .map_err(io)?;
        let mut line = String::new();
        c.stream.read_line(&mut line).map_err(io)?;
        if !line.starts_with("OK ") {
            return Err(BusError::Io(format!(
                "system bus refused authentication: {}",
                line.trim()
            )));
        }
        c.stream.get_mut().write_all(b"BEGIN\r\n").map_err(io)?;
        c.call(Message::call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            vec![],
        ))?;
        Ok(c)
    }

    /// Sends `m` with the next serial; returns the serial.
    pub fn send(&mut self, mut m: Message) -> Result<u32, BusError> {
        self.serial += 1;
        m.serial = self.serial;
        self.stream
            .get_mut()
            .write_all(&m.encode())
            .map_err(|e| BusError::Io(format!("writing to the system bus: {e}")))?;
        Ok(m.serial)
    }

    /// Reads the next message, waiting at most until `deadline`.
    fn read(&mut self, deadline: Instant) -> Result<Message, BusError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let io = |e: std::io::Error| BusError::Io(format!("reading from the system bus: {e}"));
        self.stream.get_ref().set_read_timeout(Some(left)).map_err(io)?;
        let mut head = [0u8; 16];
        self.stream.read_exact(&mut head).map_err(io)?;
        let total = Message::total_len(&head).map_err(BusError::Io)?;
        let mut buf = head.to_vec();
        buf.resize(total, 0);
        self.stream.read_exact(&mut buf[16..]).map_err(io)?;
        Message::decode(&buf).map_err(|e| BusError::Io(format!("bad message from the system bus: {e}")))
    }

    /// Calls a method and returns the reply's body; an error reply is
    /// [`BusError::Remote`]. Signals that arrive meanwhile are kept for
    /// [`Connection::wait_signal`].
    pub fn call(&mut self, m: Message) -> Result<Vec<Value>, BusError> {
        let serial = self.send(m)?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let r = self.read(deadline)?;
            match r.kind {
                METHOD_RETURN if r.reply_serial == serial => return Ok(r.body),
                ERROR if r.reply_serial == serial => {
                    let text = r
                        .body
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    return Err(BusError::Remote(r.error_name, text));
                }
                SIGNAL => self.queued.push_back(r),
                _ => {}
            }
        }
    }

    /// Waits (up to `timeout`) for a signal for which `pred` holds.
    pub fn wait_signal(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Message) -> bool,
    ) -> Result<Message, BusError> {
        if let Some(i) = self.queued.iter().position(&pred) {
            return Ok(self.queued.remove(i).unwrap_or_default());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.read(deadline)?;
            if m.kind == SIGNAL && pred(&m) {
                return Ok(m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `dbus-send --print-reply --dest=org.example / org.example.I.M string:x`,
    /// as dbus-send 1.14 wrote it to a socket (its second message, serial 2).
    const DBUS_SEND_CALL: &str = "6c01000106000000020000005700000001016f00010000002f000000000000000201\
        73000d0000006f72672e6578616d706c652e4900000003017300010000004d0000000000000006017300\
        0b0000006f72672e6578616d706c6500000000000801670001730000010000007800";

    /// `busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1
    /// org.freedesktop.systemd1.Manager StartTransientUnit 'ssa(sv)a(sa(sv))' nook-c1.scope
    /// fail 3 Delegate b true PIDs au 1 4242 MemoryMax t 1073741824 0`, as
    /// systemd 252's busctl wrote it to a socket.
    const BUSCTL_START: &str = "6c0104018000000002000000b600000001016f00190000002f6f72672f6672656564\
        65736b746f702f73797374656d643100000000000000030173001200000053746172745472616e736965\
        6e74556e697400000000000002017300200000006f72672e667265656465736b746f702e73797374656d\
        64312e4d616e61676572000000000000000006017300180000006f72672e667265656465736b746f702e\
        73797374656d643100000000000000000801670010737361287376296128736128737629290000000d00\
        00006e6f6f6b2d63312e73636f7065000000040000006661696c00000000500000000000000008000000\
        44656c6567617465000162000100000000000000040000005049447300026175000000000400000092100000\
        090000004d656d6f72794d6178000174000000000000000000000040000000000000000000000000";

    #[test]
    fn a_call_is_marshalled_byte_for_byte_as_dbus_send_does() {
        let mut m = Message::call(
            "org.example",
            "/",
            "org.example.I",
            "M",
            vec![Value::Str("x".into())],
        );
        m.serial = 2;
        let want = hex(DBUS_SEND_CALL);
        assert_eq!(m.encode(), want);
        assert_eq!(Message::decode(&want).unwrap(), m);
    }

    #[test]
    fn start_transient_unit_reads_and_writes_as_busctl_does() {
        let bytes = hex(BUSCTL_START);
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.member, "StartTransientUnit");
        assert_eq!(m.interface, "org.freedesktop.systemd1.Manager");
        let body = vec![
            Value::Str("nook-c1.scope".into()),
            Value::Str("fail".into()),
            Value::Array(
                "(sv)".into(),
                vec![
                    prop("Delegate", Value::Bool(true)),
                    prop("PIDs", Value::Array("u".into(), vec![Value::U32(4242)])),
                    prop("MemoryMax", Value::U64(1 << 30)),
                ],
            ),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        assert_eq!(m.body, body);
        // busctl orders the header fields differently; the body is the same bytes.
        let mut w = Writer::default();
        for v in &body {
            w.value(v);
        }
        assert_eq!(w.buf, bytes[bytes.len() - w.buf.len()..]);
        assert_eq!(
            bytes.len(),
            Message::total_len(bytes[..16].try_into().unwrap()).unwrap()
        );
    }

    #[test]
    fn spec_example_values() {
        // The specification's examples: a UINT32 after a BYTE is padded to 4,
        // an array of UINT64 pads to 8 after its length, which excludes that.
        let mut w = Writer::default();
        w.value(&Value::Byte(7));
        w.value(&Value::U32(5));
        assert_eq!(w.buf, [7, 0, 0, 0, 5, 0, 0, 0]);
        let mut w = Writer::default();
        w.value(&Value::Array("t".into(), vec![Value::U64(5)]));
        assert_eq!(w.buf, [8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
        let mut w = Writer::default();
        w.value(&Value::Str("foo".into()));
        assert_eq!(w.buf, [3, 0, 0, 0, b'f', b'o', b'o', 0]);
        let mut w = Writer::default();
        w.value(&Value::Variant(Box::new(Value::Bool(true))));
        assert_eq!(w.buf, [1, b'b', 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn start_transient_unit_body_round_trips() {
        let body = vec![
            Value::Str("nook-c1.scope".into()),
            Value::Str("fail".into()),
            Value::Array(
                "(sv)".into(),
                vec![
                    prop("Slice", Value::Str("system.slice".into())),
                    prop("Delegate", Value::Bool(true)),
                    prop("PIDs", Value::Array("u".into(), vec![Value::U32(4242)])),
                    prop("MemoryMax", Value::U64(1 << 30)),
                    prop("AllowedCPUs", Value::Array("y".into(), vec![Value::Byte(3)])),
                    prop(
                        "DeviceAllow",
                        Value::Array(
                            "(ss)".into(),
                            vec![Value::Struct(vec![
                                Value::Str("/dev/char/1:3".into()),
                                Value::Str("rwm".into()),
                            ])],
                        ),
                    ),
                ],
            ),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let sig: String = body.iter().map(Value::signature).collect();
        assert_eq!(sig, "ssa(sv)a(sa(sv))");
        let mut m = Message::call(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            body,
        );
        m.serial = 9;
        let bytes = m.encode();
        assert_eq!(
            bytes.len(),
            Message::total_len(bytes[..16].try_into().unwrap()).unwrap()
        );
        assert_eq!(Message::decode(&bytes).unwrap(), m);
        // The start of the body as busctl marshals it: "nook-c1.scope" then "fail".
        let body_at = bytes.len() - u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(&bytes[body_at..body_at + 4], &[13, 0, 0, 0]);
        assert_eq!(&bytes[body_at + 4..body_at + 18], b"nook-c1.scope\0");
        assert_eq!(&bytes[body_at + 18..body_at + 20], &[0, 0]);
        assert_eq!(&bytes[body_at + 20..body_at + 29], b"\x04\0\0\0fail\0");
    }

    #[test]
    fn other_fixed_types_are_read_past() {
        // A signal of another member may carry int16 and double values.
        let mut bytes = vec![2, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&1.5f64.to_le_bytes());
        let v = Reader { buf: &bytes, pos: 0 }.values("nd").unwrap();
        assert_eq!(v, [Value::U32(0x0102), Value::U64(1.5f64.to_bits())]);
    }

    #[test]
    fn signatures_split_into_complete_types() {
        assert_eq!(split_type("a(sv)s").unwrap(), ("a(sv)", "s"));
        assert_eq!(split_type("a{sa(iay)}u").unwrap(), ("a{sa(iay)}", "u"));
        assert_eq!(split_type("uoss").unwrap(), ("u", "oss"));
        assert!(split_type("(s").is_err());
    }

    #[test]
    fn truncated_or_lying_messages_are_errors() {
        let mut m = Message::call("d", "/p", "i", "m", vec![Value::Str("x".into())]);
        m.serial = 1;
        let bytes = m.encode();
        for n in 0..bytes.len() {
            assert!(Message::decode(&bytes[..n]).is_err(), "{n}");
        }
        let mut big = [0u8; 16];
        big[0] = b'l';
        big[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::total_len(&big).is_err());
    }
}
