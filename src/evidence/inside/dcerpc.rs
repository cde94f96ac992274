//! DCE/RPC over SMB named pipes (C706 connection-oriented PDUs, MS-RPCE), read only as far
//! as remote execution needs: which interface a pipe is bound to, and on the Service
//! Control Manager (MS-SCMR, svcctl) the calls that install and start a service
//! (RCreateServiceW, RChangeServiceConfigW, RStartServiceW) and whether they succeeded; on
//! the Task Scheduler (MS-TSCH, ITaskSchedulerService) a task registered with its command.
//! Every read is bounds-checked; a PDU that does not fit is ignored.

/// Interfaces whose calls mean remote execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// MS-SCMR `svcctl` 367ABB81-9844-35F1-AD32-98F038001003.
    Svcctl,
    /// MS-TSCH `ITaskSchedulerService` 86D35949-83C9-4044-B424-DB363231FD0C.
    TaskScheduler,
    Other,
}

/// The UUIDs as they sit on the wire (the first three fields little-endian).
const SVCCTL: [u8; 16] =
    [0x81, 0xbb, 0x7a, 0x36, 0x44, 0x98, 0xf1, 0x35, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03];
const TSCH: [u8; 16] =
    [0x49, 0x59, 0xd3, 0x86, 0xc9, 0x83, 0x44, 0x40, 0xb4, 0x24, 0xdb, 0x36, 0x32, 0x31, 0xfd, 0x0c];

/// PDU types (C706 12.6.4).
const REQUEST: u8 = 0;
const RESPONSE: u8 = 2;
const FAULT: u8 = 3;
const BIND: u8 = 11;
const ALTER_CONTEXT: u8 = 14;
/// `pfc_flags`: first fragment, and an object UUID after the request header.
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_OBJECT_UUID: u8 = 0x80;

/// MS-SCMR opnums.
pub const R_CHANGE_SERVICE_CONFIG_W: u16 = 11;
pub const R_CREATE_SERVICE_W: u16 = 12;
pub const R_START_SERVICE_W: u16 = 19;
pub const R_CREATE_SERVICE_WOW64_W: u16 = 45;
/// MS-TSCH SchRpcRegisterTask.
pub const SCH_RPC_REGISTER_TASK: u16 = 1;

/// A PDU's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: u8,
    pub flags: u8,
    pub frag_len: u16,
    pub call_id: u32,
}

/// Whether `b` starts like a connection-oriented DCE/RPC PDU (version 5.0 or 5.1, a known
/// type, little-endian integers, a fragment length that fits the header).
pub fn header(b: &[u8]) -> Option<Header> {
    if b.len() < 16 || b[0] != 5 || b[1] > 1 || b[2] > 20 || b[4] & 0xf0 != 0x10 {
        return None;
    }
    let frag_len = u16::from_le_bytes([b[8], b[9]]);
    if (frag_len as usize) < 16 {
        return None;
    }
    Some(Header {
        ptype: b[2],
        flags: b[3],
        frag_len,
        call_id: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
    })
}

/// The interface a bind (or alter-context) asks for: its first context's abstract syntax.
pub fn bound_interface(b: &[u8]) -> Option<Interface> {
    let h = header(b)?;
    if h.ptype != BIND && h.ptype != ALTER_CONTEXT {
        return None;
    }
    // max_xmit(2) max_recv(2) assoc_group(4) n_context(1) pad(3), then the first context:
    // p_cont_id(2) n_transfer_syn(1) pad(1) abstract syntax uuid(16) version(4).
    let n = *b.get(24)?;
    if n == 0 {
        return None;
    }
    let uuid = b.get(32..48)?;
    Some(if uuid == SVCCTL {
        Interface::Svcctl
    } else if uuid == TSCH {
        Interface::TaskScheduler
    } else {
        Interface::Other
    })
}

/// A request's opnum and stub data (the first fragment only).
pub fn request(b: &[u8]) -> Option<(Header, u16, &[u8])> {
    let h = header(b)?;
    if h.ptype != REQUEST || h.flags & PFC_FIRST_FRAG == 0 {
        return None;
    }
    let opnum = u16::from_le_bytes([*b.get(22)?, *b.get(23)?]);
    let auth = u16::from_le_bytes([b[10], b[11]]) as usize;
    let start = if h.flags & PFC_OBJECT_UUID != 0 { 40 } else { 24 };
    let end = (h.frag_len as usize).min(b.len()).saturating_sub(if auth > 0 { auth + 8 } else { 0 });
    Some((h, opnum, b.get(start..end.max(start))?))
}

/// How a call ended, from its response or fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A response whose last four stub bytes (the Win32 return value) are these.
    Returned(u32),
    Fault,
}

/// The answer a response or fault PDU gives to `call_id`.
pub fn answer(b: &[u8]) -> Option<(u32, Answer)> {
    let h = header(b)?;
    match h.ptype {
        FAULT => Some((h.call_id, Answer::Fault)),
        RESPONSE => {
            let auth = u16::from_le_bytes([b[10], b[11]]) as usize;
            let end = (h.frag_len as usize).min(b.len()).saturating_sub(if auth > 0 { auth + 8 } else { 0 });
            let stub = b.get(24..end)?;
            let tail = stub.get(stub.len().checked_sub(4)?..)?;
            Some((h.call_id, Answer::Returned(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]))))
        }
        _ => None,
    }
}

/// Reads NDR (version 1, little-endian) from a stub.
struct Ndr<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Ndr<'a> {
    fn align(&mut self, n: usize) {
        self.at = self.at.div_ceil(n) * n;
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.at = self.at.checked_add(n)?;
        (self.at <= self.b.len()).then_some(())
    }
    fn u32(&mut self) -> Option<u32> {
        self.align(4);
        let v = self.b.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    }
    /// A conformant varying UTF-16 string (`[string] wchar_t*`): max, offset, actual
    /// count, then the characters.
    fn wstring(&mut self) -> Option<String> {
        let _max = self.u32()?;
        let offset = self.u32()? as usize;
        let count = self.u32()? as usize;
        if count > 32 * 1024 || offset > count {
            return None;
        }
        let bytes = self.b.get(self.at..self.at.checked_add(count * 2)?)?;
        self.at += count * 2;
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let s = String::from_utf16_lossy(&units);
        Some(s.trim_end_matches('\0').to_string())
    }
    /// A `[unique, string]` pointer: a referent id, then the string unless it is null.
    fn unique_wstring(&mut self) -> Option<Option<String>> {
        match self.u32()? {
            0 => Some(None),
            _ => self.wstring().map(Some),
        }
    }
}

/// RCreateServiceW (and its WOW64 twin): the service name and its binary path (the name
/// alone when the stub is cut before the path).
pub fn create_service(stub: &[u8]) -> Option<(String, Option<String>)> {
    let mut r = Ndr { b: stub, at: 0 };
    r.skip(20)?; // hSCManager
    let name = r.wstring()?;
    let path = (|| {
        r.unique_wstring()?; // lpDisplayName
        r.u32()?; // dwDesiredAccess
        r.u32()?; // dwServiceType
        r.u32()?; // dwStartType
        r.u32()?; // dwErrorControl
        r.wstring()
    })();
    Some((name, path))
}

/// RChangeServiceConfigW: the new binary path, when it sets one.
pub fn change_service_config(stub: &[u8]) -> Option<String> {
    let mut r = Ndr { b: stub, at: 0 };
    r.skip(20)?; // hService
    r.u32()?; // dwServiceType
    r.u32()?; // dwStartType
    r.u32()?; // dwErrorControl
    r.unique_wstring()?
}

/// SchRpcRegisterTask: the task's path and the command its XML runs
/// (`<Command>` and `<Arguments>`).
pub fn register_task(stub: &[u8]) -> Option<(String, String)> {
    let mut r = Ndr { b: stub, at: 0 };
    let path = r.unique_wstring()?.unwrap_or_default();
    let xml = r.wstring()?;
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find("</")? + start;
        Some(xml[start..end].trim().to_string())
    };
    let command = match (field("Command"), field("Arguments")) {
        (Some(c), Some(a)) => format!("{c} {a}"),
        (Some(c), None) => c,
        _ => return None,
    };
    Some((path, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wstr(s: &str) -> Vec<u8> {
        let units: Vec<u16> = s.encode_utf16().chain([0]).collect();
        let mut v = Vec::new();
        for n in [units.len() as u32, 0, units.len() as u32] {
            v.extend(n.to_le_bytes());
        }
        for u in units {
            v.extend(u.to_le_bytes());
        }
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn create_service_names_its_binary() {
        let mut stub = vec![0u8; 20];
        stub.extend(wstr("RkKA"));
        stub.extend(1u32.to_le_bytes());
        stub.extend(wstr("RkKA"));
        for v in [0xf01ffu32, 0x10, 3, 0] {
            stub.extend(v.to_le_bytes());
        }
        stub.extend(wstr("%systemroot%\\fkmQWBCf.exe"));
        let (name, path) = create_service(&stub).unwrap();
        assert_eq!(name, "RkKA");
        assert_eq!(path.as_deref(), Some("%systemroot%\\fkmQWBCf.exe"));
        assert_eq!(create_service(&stub[..30]), None);
        assert_eq!(create_service(&stub[..50]).map(|(n, p)| (n, p.is_none())), Some(("RkKA".into(), true)));
    }

    #[test]
    fn pdus_are_checked_before_they_are_read() {
        assert_eq!(
            header(b"\x05\x00\x0b\x03\x10\x00\x00\x00\x48\x00\x00\x00\x01\x00\x00\x00").map(|h| h.ptype),
            Some(11)
        );
        assert!(header(b"whoami\r\n").is_none());
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            let _ = (bound_interface(&junk), request(&junk), answer(&junk), register_task(&junk));
            let _ = (create_service(&junk), change_service_config(&junk));
        }
    }
}
