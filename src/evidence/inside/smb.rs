//! SMB2/3 (MS-SMB2) as remote execution uses it, hand-read from byte slices: every field
//! read is bounds-checked, so no input can make it panic.
//!
//! - Framing: the 4-byte direct-TCP / NetBIOS session header, then one message (a
//!   compound chain of SMB2 headers, an SMB3 TRANSFORM_HEADER `\xfdSMB` when encrypted,
//!   `\xffSMB` for SMB1, which only counts here). The first `MESSAGE_CAP` bytes of each
//!   message are kept; the rest (file data) is skipped without a copy.
//! - Trees (`\\host\IPC$`, `ADMIN$`, `C$`), CREATEs (file and pipe names, by MessageId
//!   to the FileId the answer gives), WRITE and READ data on pipes (READs answered later
//!   with STATUS_PENDING first are matched by MessageId), IOCTL FSCTL_PIPE_TRANSCEIVE.
//! - Pipe data is DCE/RPC (`dcerpc`: service creation and start, task registration) or
//!   text: then it is read like a raw TCP shell's (cmd.exe banner, prompts, typed command
//!   lines, with `tells`).
//! - Encrypted sessions show only sizes and timing: the session setup in clear, then how
//!   big the client's encrypted messages were (an executable pushed) and the turn-taking
//!   (`turns`, read at judging time).

use super::dcerpc::{self, Answer, Interface};
use super::{Budget, Held};
use crate::evidence::tells::{self, LineKind, Tell, TellSet};
use crate::evidence::turns::{LINE_THINK_MIN_SECS, TURN_SPLIT_GAP};
use crate::evidence::Lines;
use crate::time::{Span, Timestamp};

/// The most of one SMB message kept (headers, pipe data, DCE/RPC stubs).
pub const MESSAGE_CAP: usize = 16 * 1024;
/// A larger NetBIOS length is not an SMB message.
const MESSAGE_MAX: u32 = 16 << 20;
/// Requests awaiting their answers remembered at most.
const MAX_PENDING: usize = 128;
/// Open files and trees remembered at most.
const MAX_FILES: usize = 64;
const MAX_TREES: usize = 32;
/// Names and calls kept for the alert.
const MAX_NAMES: usize = 8;
/// Pipe text kept per direction for tells.
const PIPE_TEXT: usize = 4096;
/// A pipe read with data this soon after a typed line answered it.
const ANSWER_WINDOW: Span = Span::from_millis(1500);

const STATUS_SUCCESS: u32 = 0;
const STATUS_PENDING: u32 = 0x0000_0103;
const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;
const FLAGS_SERVER_TO_REDIR: u32 = 0x1;
const FLAGS_ASYNC: u32 = 0x2;

/// SMB2 commands read here.
const NEGOTIATE: u16 = 0;
const SESSION_SETUP: u16 = 1;
const TREE_CONNECT: u16 = 3;
const CREATE: u16 = 5;
const READ: u16 = 8;
const WRITE: u16 = 9;
const IOCTL: u16 = 11;

/// What a service installation call asked for and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub binary_path: Option<String>,
    /// RChangeServiceConfigW on an existing service rather than a new one.
    pub changed: bool,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No answer seen (yet).
    Requested,
    Succeeded,
    /// A DCE/RPC fault, or a Win32 error.
    Failed,
}

/// What an SMB session showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SmbFacts {
    /// The dialect the server chose (0x0210, 0x0311 …).
    pub dialect: Option<u16>,
    /// Named pipes opened, in order.
    pub pipes: Vec<String>,
    /// Of those, pipes named as an exec tool's stdio or control pipe.
    pub exec_pipes: Vec<String>,
    pub services: Vec<Service>,
    /// RStartServiceW calls.
    pub starts: u16,
    /// Tasks registered over the Task Scheduler interface: (path, command).
    pub tasks: Vec<(String, String)>,
    /// An executable written to an administrative share (`ADMIN$\x.exe`).
    pub executable_upload: Option<String>,
    /// Tells read from text the server returned through pipes (what a shell prints).
    pub pipe_output: TellSet,
    /// Tells read from text the client wrote into pipes (what an operator types).
    pub pipe_typed: TellSet,
    pub pipe_lines: Lines,
    /// Pipe reads that ended like a prompt.
    pub pipe_prompts: u16,
    /// Typed lines written to a pipe and answered through a pipe at once.
    pub pipe_exchanges: u16,
    /// The first typed commands (from pipes, service binary paths, task commands).
    pub commands: Vec<String>,
    /// The session switched to SMB 3 encryption after its setup.
    pub encrypted: bool,
    /// Encrypted messages per direction.
    pub encrypted_messages: [u32; 2],
    /// The largest encrypted client message (its plaintext size): an upload shows here.
    pub largest_encrypted_upload: u32,
    /// SMB1 messages (counted only).
    pub smb1_messages: u32,
    /// Inside encryption: the client spoke after a pause with one to three small
    /// messages and the server answered at once, as a line typed into a pipe is.
    pub encrypted_typed: u16,
    /// Those pauses varied as a person's do (not a poller's metronome).
    pub encrypted_typing_varied: bool,
    revision: u32,
}

impl SmbFacts {
    pub fn notable(&self) -> bool {
        !self.exec_pipes.is_empty()
            || !self.services.is_empty()
            || !self.tasks.is_empty()
            || self.executable_upload.is_some()
            || !self.pipe_output.is_empty()
            || !self.pipe_typed.is_empty()
            || self.pipe_lines.commands + self.pipe_lines.recon > 0
            || self.encrypted
    }

    pub(crate) fn version(&self) -> u64 {
        self.revision as u64
    }

    fn touch(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }
}

/// Where a tree points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    /// IPC$: named pipes.
    Ipc,
    /// ADMIN$ or a drive's `X$`.
    Admin,
    Other,
}

#[derive(Debug, Clone)]
struct File {
    id: u128,
    name: String,
    pipe: bool,
    admin: bool,
    interface: Option<Interface>,
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
enum Pending {
    Tree(Share),
    Create { name: String, tree: Option<u32> },
    Read { file: u128 },
    Ioctl { file: u128 },
}

/// A DCE/RPC call awaiting its answer.
#[derive(Debug, Clone, Copy)]
enum Call {
    Service(usize),
    Task,
}

/// One direction's framing state.
#[derive(Debug, Default)]
struct Framer {
    header: [u8; 4],
    header_len: u8,
    /// Bytes of the current message (or NetBIOS control message) still to come.
    left: u32,
    /// The current message's true length.
    total: u32,
    /// The current frame is a NetBIOS session message (an SMB message), not a control one.
    is_message: bool,
    msg: Held,
    failed: bool,
}

/// The SMB side of a session.
#[derive(Debug, Default)]
pub struct SmbSession {
    framers: [Framer; 2],
    trees: Vec<(u32, Share)>,
    files: Vec<File>,
    pending: Vec<(u64, Pending)>,
    calls: Vec<(u32, Call)>,
    /// Pipe text written and read, for tells and typed lines.
    typed: Vec<u8>,
    typed_line_start: usize,
    printed: Vec<u8>,
    /// When the last typed line was written to a pipe (for pipe exchanges).
    last_typed: Option<Timestamp>,
    /// The rhythm of encrypted messages.
    pace: Pace,
    facts: SmbFacts,
    dirty: bool,
}

impl SmbSession {
    pub fn changed(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn facts(&self) -> Option<SmbFacts> {
        self.facts.notable().then(|| self.facts.clone())
    }

    pub fn fail(&mut self, d: usize, budget: &mut Budget) {
        let f = &mut self.framers[d];
        f.failed = true;
        f.msg.clear(budget);
    }

    pub fn release(&mut self, budget: &mut Budget) {
        for f in &mut self.framers {
            f.msg.clear(budget);
        }
        self.typed = Vec::new();
        self.printed = Vec::new();
    }

    /// `n` bytes of direction `d` were not captured (a snaplen cut): fine inside a
    /// message's skipped part; a message whose kept part they hit is dropped; in a frame
    /// header the framing is lost (false).
    pub fn skip_unknown(&mut self, d: usize, n: u64, ts: Timestamp, budget: &mut Budget) -> bool {
        let f = &mut self.framers[d];
        if f.failed {
            return false;
        }
        if f.header_len != 0 || (f.left as u64) < n {
            self.fail(d, budget);
            return false;
        }
        let kept_all = !f.is_message || f.msg.len() >= MESSAGE_CAP.min(f.total as usize);
        if !kept_all {
            f.is_message = false;
            f.msg.clear(budget);
        }
        f.left -= n as u32;
        if f.left == 0 {
            self.message_done(d, ts, budget);
        }
        true
    }

    /// Feeds in-order bytes of direction `d` (0: from the client).
    pub fn feed(&mut self, d: usize, mut data: &[u8], ts: Timestamp, budget: &mut Budget) {
        while !data.is_empty() {
            let f = &mut self.framers[d];
            if f.failed {
                return;
            }
            if f.left == 0 {
                // A frame header.
                let need = 4 - f.header_len as usize;
                let take = need.min(data.len());
                f.header[f.header_len as usize..f.header_len as usize + take].copy_from_slice(&data[..take]);
                f.header_len += take as u8;
                data = &data[take..];
                if f.header_len < 4 {
                    return;
                }
                f.header_len = 0;
                let len = u32::from_be_bytes([0, f.header[1], f.header[2], f.header[3]]);
                match f.header[0] {
                    // A session message: one SMB message follows.
                    0x00 if len > 0 && len <= MESSAGE_MAX => {
                        f.is_message = true;
                        f.total = len;
                        f.left = len;
                    }
                    // NetBIOS session request, answers and keepalives (port 139).
                    0x81..=0x85 if len <= 1024 => {
                        f.is_message = false;
                        f.total = len;
                        f.left = len;
                    }
                    0x00 if len == 0 => {}
                    _ => {
                        self.fail(d, budget);
                        return;
                    }
                }
                continue;
            }
            let take = (f.left as usize).min(data.len());
            if f.is_message && f.msg.len() < MESSAGE_CAP {
                let keep = take.min(MESSAGE_CAP - f.msg.len());
                if !f.msg.extend(&data[..keep], budget) {
                    self.fail(d, budget);
                    return;
                }
            }
            f.left -= take as u32;
            data = &data[take..];
            if f.left == 0 {
                self.message_done(d, ts, budget);
            }
        }
    }

    fn message_done(&mut self, d: usize, ts: Timestamp, budget: &mut Budget) {
        let f = &mut self.framers[d];
        if !f.is_message {
            return;
        }
        f.is_message = false;
        let mut msg = std::mem::take(&mut f.msg);
        let total = f.total;
        self.message(d, msg.bytes(), total, ts);
        msg.clear(budget);
        self.framers[d].msg = msg;
    }

    /// One SMB message (its first `MESSAGE_CAP` bytes; `total` is its true length).
    fn message(&mut self, d: usize, m: &[u8], total: u32, ts: Timestamp) {
        match m.get(..4) {
            Some([0xfe, b'S', b'M', b'B']) => {
                // A compound chain: each header says where the next one starts.
                let mut at = 0usize;
                for _ in 0..32 {
                    let Some(h) = m.get(at..) else { break };
                    let next = le32(h, 20).unwrap_or(0) as usize;
                    let end = if next == 0 { h.len() } else { next.min(h.len()) };
                    self.smb2(&h[..end], ts);
                    if next == 0 || next < 64 {
                        break;
                    }
                    at += next;
                }
            }
            Some([0xfd, b'S', b'M', b'B']) => {
                // TRANSFORM_HEADER: the plaintext's size and nothing else.
                let size = le32(m, 36).unwrap_or(total);
                let fx = &mut self.facts;
                if !fx.encrypted {
                    fx.encrypted = true;
                    fx.touch();
                    self.dirty = true;
                }
                fx.encrypted_messages[d] = fx.encrypted_messages[d].saturating_add(1);
                if let Some((typed, varied)) = self.pace.message(d, size, ts) {
                    let fx = &mut self.facts;
                    if (typed, varied) != (fx.encrypted_typed, fx.encrypted_typing_varied) {
                        fx.encrypted_typed = typed;
                        fx.encrypted_typing_varied = varied;
                        fx.touch();
                        self.dirty = true;
                    }
                }
                let fx = &mut self.facts;
                if d == 0 && size > fx.largest_encrypted_upload {
                    fx.largest_encrypted_upload = size;
                    if size >= 16 * 1024 {
                        fx.touch();
                        self.dirty = true;
                    }
                }
            }
            Some([0xff, b'S', b'M', b'B']) => {
                self.facts.smb1_messages = self.facts.smb1_messages.saturating_add(1);
            }
            _ => {}
        }
    }

    /// One SMB2 header and its body (`h` ends where the next compound header starts).
    fn smb2(&mut self, h: &[u8], ts: Timestamp) {
        if h.len() < 64 || le16(h, 4) != Some(64) {
            return;
        }
        let status = le32(h, 8).unwrap_or(0);
        let command = le16(h, 12).unwrap_or(u16::MAX);
        let flags = le32(h, 16).unwrap_or(0);
        let message_id = le64(h, 24).unwrap_or(0);
        let tree_id = if flags & FLAGS_ASYNC == 0 { le32(h, 36) } else { None };
        let body = &h[64..];
        if flags & FLAGS_SERVER_TO_REDIR == 0 {
            self.request(command, message_id, tree_id, h, body, ts);
        } else {
            self.response(command, status, message_id, tree_id, h, body, ts);
        }
    }

    fn request(
        &mut self,
        command: u16,
        mid: u64,
        tree_id: Option<u32>,
        h: &[u8],
        body: &[u8],
        ts: Timestamp,
    ) {
        match command {
            TREE_CONNECT => {
                // StructureSize(2) Flags(2) PathOffset(2) PathLength(2).
                let (Some(off), Some(len)) = (le16(body, 4), le16(body, 6)) else { return };
                let path = utf16(h, off as usize, len as usize);
                self.expect(mid, Pending::Tree(share_of(&path)));
            }
            CREATE => {
                // NameOffset at 44, NameLength at 46 (from the header's start).
                let (Some(off), Some(len)) = (le16(body, 44), le16(body, 46)) else { return };
                let name = utf16(h, off as usize, len as usize);
                self.expect(mid, Pending::Create { name, tree: tree_id });
            }
            WRITE => {
                // DataOffset(2) at 2, Length(4) at 4, FileId(16) at 16.
                let (Some(off), Some(len), Some(id)) = (le16(body, 2), le32(body, 4), le128(body, 16)) else {
                    return;
                };
                let data = slice(h, off as usize, len as usize);
                self.written(id, data, ts);
            }
            READ => {
                if let Some(id) = le128(body, 16) {
                    self.expect(mid, Pending::Read { file: id });
                }
            }
            IOCTL => {
                // CtlCode at 4, FileId at 8, InputOffset at 24, InputCount at 28.
                let (Some(code), Some(id)) = (le32(body, 4), le128(body, 8)) else { return };
                if code != FSCTL_PIPE_TRANSCEIVE {
                    return;
                }
                if let (Some(off), Some(len)) = (le32(body, 24), le32(body, 28)) {
                    let data = slice(h, off as usize, len as usize);
                    self.written(id, data, ts);
                }
                self.expect(mid, Pending::Ioctl { file: id });
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn response(
        &mut self,
        command: u16,
        status: u32,
        mid: u64,
        tree_id: Option<u32>,
        h: &[u8],
        body: &[u8],
        ts: Timestamp,
    ) {
        if status == STATUS_PENDING {
            // An interim answer: the real one comes later with the same MessageId.
            return;
        }
        match command {
            NEGOTIATE if status == STATUS_SUCCESS => {
                if let Some(dialect) = le16(body, 4) {
                    if self.facts.dialect != Some(dialect) {
                        self.facts.dialect = Some(dialect);
                    }
                }
            }
            SESSION_SETUP => {}
            TREE_CONNECT => {
                let Some(Pending::Tree(share)) = self.answered(mid) else { return };
                // ShareType at 2: 0x02 is a pipe share.
                let share = if body.get(2) == Some(&0x02) { Share::Ipc } else { share };
                if let (STATUS_SUCCESS, Some(t)) = (status, tree_id) {
                    if self.trees.len() >= MAX_TREES {
                        self.trees.remove(0);
                    }
                    self.trees.push((t, share));
                }
            }
            CREATE => {
                let Some(Pending::Create { name, tree }) = self.answered(mid) else { return };
                let Some(id) = le128(body, 64) else { return };
                if status != STATUS_SUCCESS {
                    return;
                }
                let tree = tree.or(tree_id);
                let share =
                    tree.and_then(|t| self.trees.iter().rev().find(|(id, _)| *id == t).map(|(_, s)| *s));
                let pipe = share == Some(Share::Ipc);
                let admin = share == Some(Share::Admin);
                if self.files.len() >= MAX_FILES {
                    self.files.remove(0);
                }
                let name = pipe_name(&name);
                if pipe {
                    self.opened_pipe(&name);
                }
                self.files.push(File { id, name, pipe, admin, interface: None });
            }
            READ => {
                let Some(Pending::Read { file }) = self.answered(mid) else { return };
                if status != STATUS_SUCCESS && status != STATUS_BUFFER_OVERFLOW {
                    return;
                }
                // DataOffset(1) at 2, DataLength(4) at 4.
                let (Some(&off), Some(len)) = (body.get(2), le32(body, 4)) else { return };
                let data = slice(h, off as usize, len as usize);
                self.read(file, data, ts);
            }
            IOCTL => {
                let Some(Pending::Ioctl { file }) = self.answered(mid) else { return };
                if status != STATUS_SUCCESS && status != STATUS_BUFFER_OVERFLOW {
                    return;
                }
                // OutputOffset at 32, OutputCount at 36.
                if let (Some(off), Some(len)) = (le32(body, 32), le32(body, 36)) {
                    let data = slice(h, off as usize, len as usize);
                    self.read(file, data, ts);
                }
            }
            _ => {}
        }
    }

    fn expect(&mut self, mid: u64, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((mid, p));
    }

    fn answered(&mut self, mid: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|(m, _)| *m == mid)?;
        Some(self.pending.remove(i).1)
    }

    fn file(&self, id: u128) -> Option<usize> {
        self.files.iter().position(|f| f.id == id)
    }

    fn opened_pipe(&mut self, name: &str) {
        let fx = &mut self.facts;
        if fx.pipes.len() < MAX_NAMES && !fx.pipes.iter().any(|p| p == name) {
            fx.pipes.push(name.to_string());
            fx.touch();
        }
        if exec_pipe(name) && fx.exec_pipes.len() < MAX_NAMES && !fx.exec_pipes.iter().any(|p| p == name) {
            fx.exec_pipes.push(name.to_string());
            fx.touch();
            self.dirty = true;
        }
    }

    /// Data the client wrote to a file or pipe.
    fn written(&mut self, id: u128, data: &[u8], ts: Timestamp) {
        let Some(i) = self.file(id) else { return };
        if !self.files[i].pipe {
            // An executable pushed to an administrative share: what service-based
            // remote execution installs first.
            if self.files[i].admin && data.starts_with(b"MZ") && self.facts.executable_upload.is_none() {
                let name = self.files[i].name.clone();
                self.facts.executable_upload = Some(name);
                self.facts.touch();
                self.dirty = true;
            }
            return;
        }
        if dcerpc::header(data).is_some() {
            self.rpc_request(id, data);
            return;
        }
        self.typed_text(data, ts);
    }

    /// Data the server returned from a pipe.
    fn read(&mut self, id: u128, data: &[u8], ts: Timestamp) {
        let Some(i) = self.file(id) else { return };
        if !self.files[i].pipe || data.is_empty() {
            return;
        }
        if dcerpc::header(data).is_some() {
            self.rpc_answer(data);
            return;
        }
        self.printed_text(data, ts);
    }

    fn rpc_request(&mut self, id: u128, data: &[u8]) {
        if let Some(iface) = dcerpc::bound_interface(data) {
            if let Some(i) = self.file(id) {
                self.files[i].interface = Some(iface);
            }
            return;
        }
        let Some((h, opnum, stub)) = dcerpc::request(data) else { return };
        let iface = self.file(id).and_then(|i| self.files[i].interface);
        let fx = &mut self.facts;
        match (iface, opnum) {
            (Some(Interface::Svcctl), dcerpc::R_CREATE_SERVICE_W | dcerpc::R_CREATE_SERVICE_WOW64_W) => {
                if let Some((name, path)) = dcerpc::create_service(stub) {
                    self.service(
                        Service { name, binary_path: path, changed: false, outcome: Outcome::Requested },
                        h.call_id,
                    );
                }
            }
            (Some(Interface::Svcctl), dcerpc::R_CHANGE_SERVICE_CONFIG_W) => {
                if let Some(path) = dcerpc::change_service_config(stub) {
                    let name = String::from("(existing service)");
                    self.service(
                        Service { name, binary_path: Some(path), changed: true, outcome: Outcome::Requested },
                        h.call_id,
                    );
                }
            }
            (Some(Interface::Svcctl), dcerpc::R_START_SERVICE_W) => {
                fx.starts = fx.starts.saturating_add(1);
                fx.touch();
                self.dirty = true;
            }
            (Some(Interface::TaskScheduler), dcerpc::SCH_RPC_REGISTER_TASK) => {
                if let Some((path, command)) = dcerpc::register_task(stub) {
                    if fx.tasks.len() < MAX_NAMES {
                        fx.tasks.push((super::http::cut(&path, 256), super::http::cut(&command, 512)));
                    }
                    self.command(&command);
                    self.calls.push((h.call_id, Call::Task));
                    self.facts.touch();
                    self.dirty = true;
                }
            }
            _ => {}
        }
    }

    fn service(&mut self, s: Service, call_id: u32) {
        if let Some(path) = &s.binary_path {
            if runs_command(path) {
                let p = path.clone();
                self.command(&p);
            }
        }
        let fx = &mut self.facts;
        if fx.services.len() < MAX_NAMES {
            fx.services.push(Service {
                name: super::http::cut(&s.name, 256),
                binary_path: s.binary_path.map(|p| super::http::cut(&p, 512)),
                ..s
            });
            if self.calls.len() >= MAX_PENDING {
                self.calls.remove(0);
            }
            self.calls.push((call_id, Call::Service(fx.services.len() - 1)));
        }
        fx.touch();
        self.dirty = true;
    }

    fn rpc_answer(&mut self, data: &[u8]) {
        let Some((call_id, answer)) = dcerpc::answer(data) else { return };
        let Some(i) = self.calls.iter().position(|(c, _)| *c == call_id) else { return };
        let (_, call) = self.calls.remove(i);
        if let Call::Service(k) = call {
            if let Some(s) = self.facts.services.get_mut(k) {
                s.outcome = match answer {
                    Answer::Returned(0) => Outcome::Succeeded,
                    _ => Outcome::Failed,
                };
                self.facts.touch();
                self.dirty = true;
            }
        }
    }

    fn command(&mut self, text: &str) {
        let fx = &mut self.facts;
        let t = super::http::cut(text.trim(), 256);
        if fx.commands.len() < MAX_NAMES && !t.is_empty() && !fx.commands.contains(&t) {
            fx.commands.push(t);
        }
    }

    /// Text the client wrote into a pipe: what an operator types.
    fn typed_text(&mut self, data: &[u8], ts: Timestamp) {
        let old = self.typed.len();
        let room = PIPE_TEXT.saturating_sub(old);
        self.typed.extend_from_slice(&data[..data.len().min(room)]);
        let before = (self.facts.pipe_typed, self.facts.pipe_lines.commands, self.facts.pipe_lines.recon);
        tells::scan(&self.typed, old.saturating_sub(tells::MAX_PATTERN), &mut self.facts.pipe_typed);
        let mut start = self.typed_line_start;
        let mut lines = Vec::new();
        for i in memchr::memchr2_iter(b'\n', b'\r', &self.typed[old..]) {
            let i = old + i;
            let line = &self.typed[start..i];
            match tells::classify_line(line) {
                LineKind::Recon => {
                    self.facts.pipe_lines.recon += 1;
                    lines.push(String::from_utf8_lossy(line).trim().to_string());
                }
                LineKind::Command => {
                    self.facts.pipe_lines.commands += 1;
                    lines.push(String::from_utf8_lossy(line).trim().to_string());
                }
                LineKind::Other => {}
            }
            start = i + 1;
        }
        self.typed_line_start = start;
        for l in lines {
            self.command(&l);
        }
        let l = self.facts.pipe_lines;
        if l.recon + l.commands >= 2 {
            self.facts.pipe_typed.insert(Tell::ShellCommands);
        }
        if l.recon >= 1 && l.recon + l.commands >= 2 {
            self.facts.pipe_typed.insert(Tell::ReconCommands);
        }
        if data.len() <= 320 {
            self.last_typed = Some(ts);
        }
        if before != (self.facts.pipe_typed, self.facts.pipe_lines.commands, self.facts.pipe_lines.recon) {
            self.facts.touch();
            self.dirty = true;
        }
    }

    /// Text the server returned through a pipe: what a shell prints.
    fn printed_text(&mut self, data: &[u8], ts: Timestamp) {
        let before = (self.facts.pipe_output, self.facts.pipe_prompts, self.facts.pipe_exchanges);
        let old = self.printed.len();
        let room = PIPE_TEXT.saturating_sub(old);
        self.printed.extend_from_slice(&data[..data.len().min(room)]);
        tells::scan(&self.printed, old.saturating_sub(tells::MAX_PATTERN), &mut self.facts.pipe_output);
        // The last line, whole (a cmd prompt's `\` is more than 8 bytes from its end).
        let line_start = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
        let tail = &data[line_start.max(data.len().saturating_sub(64))..];
        if tells::ends_with_prompt(tail) {
            self.facts.pipe_prompts = self.facts.pipe_prompts.saturating_add(1);
            if self.facts.pipe_prompts >= 2 {
                self.facts.pipe_output.insert(Tell::ShellPrompt);
            }
        }
        if let Some(t) = self.last_typed.take() {
            if ts - t <= ANSWER_WINDOW {
                self.facts.pipe_exchanges = self.facts.pipe_exchanges.saturating_add(1);
            }
        }
        if before != (self.facts.pipe_output, self.facts.pipe_prompts, self.facts.pipe_exchanges) {
            self.facts.touch();
            self.dirty = true;
        }
    }
}

/// The rhythm of an encrypted session, by SMB message. After a pause, a burst begins; a
/// burst the client starts with at most `TYPED_BURST` small messages, answered by the
/// server within `ANSWER_WINDOW`, is a line typed into a pipe (a file operation, even a
/// folder opened in Explorer, takes more requests than that).
#[derive(Debug, Default)]
struct Pace {
    last: Option<Timestamp>,
    burst: Option<Burst>,
    typed: u16,
    log_n: u32,
    log_sum: f32,
    log_sq: f32,
}

#[derive(Debug, Clone, Copy)]
struct Burst {
    client_led: bool,
    start: Timestamp,
    gap: Span,
    client_messages: u16,
    small: bool,
    answered: bool,
}

/// Client messages a typed line takes at most (the write, and the reads it re-posts).
const TYPED_BURST: u16 = 3;
/// A typed line's message is small (the SMB2 header, a WRITE, the line).
const TYPED_MESSAGE_MAX: u32 = 1024;

impl Pace {
    /// Notes one encrypted message; returns the typed bursts so far, and whether their
    /// pauses varied, when a burst just closed.
    fn message(&mut self, d: usize, size: u32, ts: Timestamp) -> Option<(u16, bool)> {
        let mut closed = None;
        let paused = self.last.is_some_and(|l| ts - l >= TURN_SPLIT_GAP);
        if paused {
            if let Some(b) = self.burst.take() {
                closed = Some(self.close(b));
            }
            let gap = self.last.map_or(Span::ZERO, |l| ts - l);
            self.burst = Some(Burst {
                client_led: d == 0,
                start: ts,
                gap,
                client_messages: u16::from(d == 0),
                small: d != 0 || size <= TYPED_MESSAGE_MAX,
                answered: false,
            });
        } else if let Some(b) = self.burst.as_mut() {
            if d == 0 {
                b.client_messages = b.client_messages.saturating_add(1);
                b.small &= size <= TYPED_MESSAGE_MAX;
            } else if b.client_led && ts - b.start <= ANSWER_WINDOW {
                b.answered = true;
            }
        }
        self.last = Some(ts);
        closed
    }

    fn close(&mut self, b: Burst) -> (u16, bool) {
        if b.client_led && b.answered && b.small && b.client_messages <= TYPED_BURST {
            self.typed = self.typed.saturating_add(1);
            let l = (b.gap.as_secs_f64() as f32).max(1e-3).ln();
            self.log_n += 1;
            self.log_sum += l;
            self.log_sq += l * l;
        }
        (self.typed, self.varied())
    }

    /// The pauses before typed bursts vary as a person's do, and are a person's length.
    fn varied(&self) -> bool {
        if self.log_n < 3 {
            return false;
        }
        let n = self.log_n as f32;
        let mean = self.log_sum / n;
        let spread = (self.log_sq / n - mean * mean).max(0.0).sqrt();
        spread >= 0.25 && mean.exp() >= LINE_THINK_MIN_SECS
    }
}

/// The share a tree path names.
fn share_of(path: &str) -> Share {
    let last = path.rsplit('\\').next().unwrap_or("").to_ascii_uppercase();
    if last == "IPC$" {
        Share::Ipc
    } else if last == "ADMIN$"
        || (last.len() == 2 && last.ends_with('$') && last.as_bytes()[0].is_ascii_alphabetic())
    {
        Share::Admin
    } else {
        Share::Other
    }
}

/// A pipe's name without a leading `\` or `PIPE\`.
fn pipe_name(name: &str) -> String {
    let n = name.trim_start_matches('\\');
    let n = if n.len() >= 5 && n[..5].eq_ignore_ascii_case("pipe\\") { &n[5..] } else { n };
    super::http::cut(n, 128)
}

/// Pipes remote-exec tools give a started process's stdio or their control channel:
/// any name ending in stdin/stdout/stderr with a tag after it (RemCom's
/// `RemCom_stdin<host><pid>`, PsExec's `PSEXESVC-<host>-<pid>-stdin`, PAExec's and
/// CSExec's alike), and the services' own control pipes.
pub fn exec_pipe(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const CONTROL: &[&str] =
        &["psexesvc", "remcom_communicaton", "remcom_communication", "paexec", "csexecsvc"];
    n.contains("stdin")
        || n.contains("stdout")
        || n.contains("stderr")
        || CONTROL.iter().any(|c| n.starts_with(c))
}

/// A service binary path that runs a command interpreter with a command (smbexec's
/// `%COMSPEC% /Q /c echo …`, `cmd.exe /c …`, `powershell -enc …`).
pub fn runs_command(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    let interpreter = p.contains("%comspec%")
        || p.contains("cmd.exe")
        || p.starts_with("cmd ")
        || p.contains("powershell")
        || p.contains("pwsh")
        || p.contains("mshta")
        || p.contains("rundll32");
    interpreter
        && (p.contains(" /c")
            || p.contains(" /k")
            || p.contains(" -c")
            || p.contains("-enc")
            || p.contains(" -e "))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

fn le128(b: &[u8], at: usize) -> Option<u128> {
    let s = b.get(at..at.checked_add(16)?)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(s);
    Some(u128::from_le_bytes(a))
}

/// `len` bytes at `off` of the message, or as many of them as were kept.
fn slice(h: &[u8], off: usize, len: usize) -> &[u8] {
    let start = off.min(h.len());
    let end = off.saturating_add(len).min(h.len());
    &h[start..end]
}

/// A UTF-16LE string at `off`.
fn utf16(h: &[u8], off: usize, len: usize) -> String {
    let b = slice(h, off, len.min(1024));
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SMB2 message with one header: command, flags, message id, tree id, status.
    fn smb2(command: u16, response: bool, mid: u64, tree: u32, status: u32, body: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\xfeSMB");
        h[4..6].copy_from_slice(&64u16.to_le_bytes());
        h[8..12].copy_from_slice(&status.to_le_bytes());
        h[12..14].copy_from_slice(&command.to_le_bytes());
        h[16..20].copy_from_slice(&(response as u32).to_le_bytes());
        h[24..32].copy_from_slice(&mid.to_le_bytes());
        h[36..40].copy_from_slice(&tree.to_le_bytes());
        h.extend_from_slice(body);
        let mut framed = (h.len() as u32).to_be_bytes().to_vec();
        framed[0] = 0;
        framed.extend(h);
        framed
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// Opens `name` on IPC$ as file id `id`; returns the messages of each direction.
    fn open_pipe(name: &str, id: u128, mid: u64) -> (Vec<u8>, Vec<u8>) {
        let path = utf16le("\\\\srv\\IPC$");
        let mut tc = vec![0u8; 8];
        tc[0..2].copy_from_slice(&9u16.to_le_bytes());
        tc[4..6].copy_from_slice(&(72u16).to_le_bytes());
        tc[6..8].copy_from_slice(&(path.len() as u16).to_le_bytes());
        tc.extend(&path);
        let mut tc_resp = vec![0u8; 16];
        tc_resp[2] = 2;
        let n = utf16le(name);
        let mut cr = vec![0u8; 56];
        cr[44..46].copy_from_slice(&120u16.to_le_bytes());
        cr[46..48].copy_from_slice(&(n.len() as u16).to_le_bytes());
        cr.extend(&n);
        let mut cr_resp = vec![0u8; 88];
        cr_resp[64..80].copy_from_slice(&id.to_le_bytes());
        let mut c = smb2(TREE_CONNECT, false, mid, 0, 0, &tc);
        c.extend(smb2(CREATE, false, mid + 1, 7, 0, &cr));
        let mut s = smb2(TREE_CONNECT, true, mid, 7, 0, &tc_resp);
        s.extend(smb2(CREATE, true, mid + 1, 7, 0, &cr_resp));
        (c, s)
    }

    fn write(id: u128, mid: u64, data: &[u8]) -> Vec<u8> {
        let mut w = vec![0u8; 48];
        w[2..4].copy_from_slice(&112u16.to_le_bytes());
        w[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        w[16..32].copy_from_slice(&id.to_le_bytes());
        w.extend(data);
        smb2(WRITE, false, mid, 7, 0, &w)
    }

    fn read_answer(mid: u64, data: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 16];
        r[2] = 80;
        r[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend(data);
        smb2(READ, true, mid, 7, 0, &r)
    }

    fn read_request(id: u128, mid: u64) -> Vec<u8> {
        let mut r = vec![0u8; 48];
        r[16..32].copy_from_slice(&id.to_le_bytes());
        smb2(READ, false, mid, 7, 0, &r)
    }

    #[test]
    fn cmd_through_stdio_pipes_is_read_like_a_shell() {
        let mut s = SmbSession::default();
        let mut b = Budget::new(1 << 20);
        let t = |ms: i64| Timestamp::from_nanos(ms * 1_000_000);
        let (c, r) = open_pipe("RemCom_stdoutAbc123", 0x77, 10);
        s.feed(0, &c, t(0), &mut b);
        s.feed(1, &r, t(1), &mut b);
        let (c, r) = open_pipe("RemCom_stdinAbc123", 0x78, 20);
        s.feed(0, &c, t(2), &mut b);
        s.feed(1, &r, t(3), &mut b);
        s.feed(0, &read_request(0x77, 30), t(4), &mut b);
        // STATUS_PENDING first, then the banner.
        s.feed(1, &smb2(READ, true, 30, 7, STATUS_PENDING, &[0u8; 9]), t(5), &mut b);
        let banner = b"Microsoft Windows [Version 6.1.7601]\r\n(c) Microsoft Corporation.\r\n\r\nC:\\Windows\\system32>";
        s.feed(1, &read_answer(30, banner), t(600), &mut b);
        for (i, cmd) in [&b"whoami\r\n"[..], b"hostname\r\n", b"ipconfig\r\n"].iter().enumerate() {
            let at = 3000 * (i as i64 + 1);
            s.feed(0, &write(0x78, 40 + i as u64 * 2, cmd), t(at), &mut b);
            s.feed(0, &read_request(0x77, 41 + i as u64 * 2), t(at + 1), &mut b);
            s.feed(
                1,
                &read_answer(41 + i as u64 * 2, b"corp\\admin\r\n\r\nC:\\Windows\\system32>"),
                t(at + 40),
                &mut b,
            );
        }
        let f = s.facts().unwrap();
        assert_eq!(f.exec_pipes, ["RemCom_stdoutAbc123", "RemCom_stdinAbc123"]);
        assert!(f.pipe_output.contains(Tell::CmdBanner));
        assert!(f.pipe_output.contains(Tell::ShellPrompt));
        assert!(f.pipe_typed.contains(Tell::ReconCommands));
        assert_eq!(f.commands, ["whoami", "hostname", "ipconfig"]);
        assert_eq!(f.pipe_exchanges, 3);
        s.release(&mut b);
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn pipe_names_and_command_services() {
        assert!(exec_pipe("PSEXESVC-ADMIN-PC-5132-stdin"));
        assert!(exec_pipe("RemCom_communicaton"));
        assert!(!exec_pipe("srvsvc") && !exec_pipe("samr") && !exec_pipe("spoolss"));
        assert!(runs_command("%COMSPEC% /Q /c echo whoami ^> \\\\%COMPUTERNAME%\\C$\\__output 2^>^&1"));
        assert!(!runs_command("%systemroot%\\fkmQWBCf.exe"));
        assert_eq!(pipe_name("\\PIPE\\svcctl"), "svcctl");
    }

    #[test]
    fn encryption_is_seen_and_garbage_never_panics() {
        let mut s = SmbSession::default();
        let mut b = Budget::new(1 << 20);
        let mut t = vec![0u8; 52];
        t[..4].copy_from_slice(b"\xfdSMB");
        t[36..40].copy_from_slice(&70_000u32.to_le_bytes());
        t.extend([0u8; 100]);
        let mut framed = (t.len() as u32).to_be_bytes().to_vec();
        framed.extend(&t);
        s.feed(0, &framed, Timestamp::ZERO, &mut b);
        let f = s.facts().unwrap();
        assert!(f.encrypted);
        assert_eq!(f.largest_encrypted_upload, 70_000);
        let mut x = 3u32;
        for _ in 0..200 {
            let mut s = SmbSession::default();
            for _ in 0..10 {
                let mut seg = vec![0u8, 0, 0, 80];
                seg.extend(b"\xfeSMB\x40\x00");
                for _ in 0..(x % 200) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    seg.push(x as u8);
                }
                s.feed((x % 2) as usize, &seg, Timestamp::ZERO, &mut b);
                let _ = s.skip_unknown((x % 2) as usize, (x % 500) as u64, Timestamp::ZERO, &mut b);
            }
            s.release(&mut b);
        }
        assert_eq!(b.held(), 0);
    }
}
