//! Remote execution over SMB: a service installed through svcctl (PsExec, Impacket's
//! psexec and smbexec, RemCom), a task registered through the Task Scheduler, an
//! executable pushed to an administrative share, and a process's stdio carried through
//! named pipes, whose text is judged with the same tells as a raw TCP shell's. With SMB 3
//! encryption only sizes and timing are left: a person's turn-taking inside the encrypted
//! session (and a large upload) is then the evidence, and the reasons say so.
//!
//! An exec pipe on a server is high; a service installation alone is medium (software
//! deployment installs services too); admin ranges and exclusions lower both.

use super::context::ContextFacts;
use super::network::{SHELL_MARKS, TYPIST_MARKS};
use super::reason::Reason;
use super::Weight;
use crate::evidence::inside::smb::{runs_command, Outcome, Service, SmbFacts};

/// A service created (or asked for) through svcctl, or an existing one re-pointed.
const SERVICE: i32 = 40;
/// A service creation asked for and not (yet) granted, or refused: the attempt.
const SERVICE_ASKED: i32 = 30;
const STARTED: i32 = 10;
/// The service or task runs a command interpreter with a command (smbexec).
const COMMAND: i32 = 25;
const UPLOAD: i32 = 15;
/// A pipe named as an exec tool's stdio or control channel.
const EXEC_PIPE: i32 = 25;
/// Typed command lines written into a pipe.
const PIPE_COMMANDS: i32 = 20;
/// Typed lines answered through a pipe at once.
const PIPE_INTERACTIVE: i32 = 15;
/// A person's turn-taking inside an encrypted SMB session.
const ENCRYPTED_INTERACTIVE: i32 = 55;
/// An executable-sized encrypted upload: with turn-taking, and alone.
const ENCRYPTED_UPLOAD_WITH: i32 = 10;
const ENCRYPTED_UPLOAD_ALONE: i32 = 20;
/// Lines typed into the encrypted session needed.
const ENCRYPTED_EXCHANGES: u32 = 4;
/// An encrypted client message this large is a file pushed, not a command.
const UPLOAD_BYTES: u32 = 16 * 1024;
/// The client driving it is outside the home networks.
const FROM_OUTSIDE: i32 = 15;
/// What SMB evidence may add at most before context.
const CAP: i32 = 85;

pub(super) fn weigh(smb: &SmbFacts, ctx: &ContextFacts, w: &mut Weight) {
    let mut reasons: Vec<(Reason, i32)> = Vec::new();
    let mut push = |r: Reason, p: i32| reasons.push((r, p));

    // The server's answer decides: until it comes, a creation is only asked for (and a
    // tier once reported never falls, so it must not count as done before).
    let done = |s: &&Service| s.outcome == Outcome::Succeeded;
    if let Some(s) = smb.services.iter().find(|s| done(s) && !s.changed) {
        push(Reason::SmbServiceCreated(s.name.clone()), SERVICE);
    } else if smb.services.iter().any(|s| done(&s) && s.changed) {
        push(Reason::SmbServiceChanged, SERVICE);
    } else if let Some(s) = smb.services.iter().find(|s| s.outcome == Outcome::Requested) {
        push(Reason::SmbServiceRequested(s.name.clone()), SERVICE_ASKED);
    } else if let Some(s) = smb.services.first() {
        push(Reason::SmbServiceCreateFailed(s.name.clone()), SERVICE_ASKED);
    }
    if !smb.tasks.is_empty() && smb.services.is_empty() {
        push(Reason::SmbTaskRegistered, SERVICE);
    }
    let working = smb.services.iter().any(|s| s.outcome == Outcome::Succeeded);
    if smb.starts > 0 && working {
        push(Reason::SmbServiceStarted, STARTED);
    }
    let commands = smb
        .services
        .iter()
        .filter(|s| s.outcome == Outcome::Succeeded)
        .filter_map(|s| s.binary_path.as_deref())
        .any(runs_command)
        || smb.tasks.iter().any(|(_, c)| runs_command(c));
    if commands {
        push(Reason::SmbServiceCommand, COMMAND);
    }
    if smb.executable_upload.is_some() {
        push(Reason::SmbExecutableUpload, UPLOAD);
    }
    if let Some(p) = smb.exec_pipes.first() {
        push(Reason::SmbExecPipe(p.clone()), EXEC_PIPE);
    }
    // The pipes' text, read as a raw TCP shell's is.
    for (tell, p, reason) in SHELL_MARKS {
        if smb.pipe_output.contains(tell) {
            push(reason, p);
        }
    }
    for (tell, p, reason) in TYPIST_MARKS {
        if smb.pipe_typed.contains(tell) {
            push(reason, p);
        }
    }
    if smb.pipe_lines.recon + smb.pipe_lines.commands >= 1 {
        push(Reason::SmbPipeCommands, PIPE_COMMANDS);
    }
    if smb.pipe_exchanges >= 2 {
        push(Reason::SmbPipeInteractive, PIPE_INTERACTIVE);
    }
    // Inside encryption: a person's turn-taking, an executable-sized upload.
    if smb.encrypted {
        let typing = smb.encrypted_typed as u32 >= ENCRYPTED_EXCHANGES && smb.encrypted_typing_varied;
        if typing {
            push(Reason::SmbEncryptedInteractive, ENCRYPTED_INTERACTIVE);
        }
        if smb.largest_encrypted_upload >= UPLOAD_BYTES {
            push(
                Reason::SmbEncryptedUpload,
                if typing { ENCRYPTED_UPLOAD_WITH } else { ENCRYPTED_UPLOAD_ALONE },
            );
        }
    }
    if smb.encrypted && !reasons.is_empty() {
        reasons.push((Reason::Encrypted("smb"), 0));
    }
    let points: i32 = reasons.iter().map(|(_, p)| p).sum();
    for (r, _) in reasons {
        w.add(r, 0);
    }
    w.points += points.min(CAP);
    // An approved admin range outside the home networks is still ours.
    if points >= 30 && ctx.remote_outside_home && !ctx.remote_is_admin {
        w.add(Reason::FromOutsideHome, FROM_OUTSIDE);
    }
}
