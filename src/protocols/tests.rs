use super::*;
use crate::decode::Transport::{Tcp, Udp};

/// What one payload alone is, as the client or the server of `port`.
fn at(t: Transport, port: u16) -> Place {
    Place::new(t, 50_000, port)
}

fn strong(t: Transport, role: Role, b: &[u8], port: u16) -> Option<Protocol> {
    probe(at(t, port), role, b, b.len() as u32).strong.pick(at(t, port))
}

fn client(t: Transport, b: &[u8], port: u16) -> Option<Protocol> {
    strong(t, Role::Client, b, port)
}

fn server(t: Transport, b: &[u8], port: u16) -> Option<Protocol> {
    strong(t, Role::Server, b, port)
}

/// The session's protocol after one payload each way.
fn session(t: Transport, c: &[u8], s: &[u8], port: u16) -> Option<Protocol> {
    let mut id = Identity::default();
    id.observe(at(t, port), 0, c, c.len() as u32);
    id.observe(at(t, port), 1, s, s.len() as u32);
    id.session(at(t, port)).map(|(p, _)| p)
}

#[test]
fn the_table_is_in_the_order_of_the_enum_and_names_are_unique() {
    for (i, r) in TABLE.iter().enumerate() {
        assert_eq!(r.protocol as usize, i, "{}", r.name);
        assert_eq!(r.protocol.row().name, r.name);
        assert_eq!(r.name, r.name.to_ascii_lowercase());
    }
    let mut names: Vec<_> = TABLE.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TABLE.len());
    assert!(TABLE.len() <= 64, "ProtoSet holds 64");
}

#[test]
fn every_protocol_with_a_probe_has_a_port_or_is_known_to_roam() {
    // RTP, RTCP and KCP use whatever ports were negotiated; everything else has a home.
    for r in TABLE.iter().filter(|r| r.protocol.is_identified()) {
        let roams = matches!(r.protocol, Protocol::Rtp | Protocol::Rtcp | Protocol::Kcp);
        // FIX runs on whatever port the venue gives (9876-9880 is a convention).
        assert!(roams || !r.ports.is_empty(), "{} has no port", r.name);
    }
}

#[test]
fn tls_ssh_http_and_telnet_are_as_before() {
    assert_eq!(client(Tcp, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01], 443), Some(Protocol::Tls));
    assert_eq!(server(Tcp, &[0x17, 0x03, 0x03, 0x00, 0x30], 4444), Some(Protocol::Tls));
    assert_eq!(client(Tcp, b"SSH-2.0-OpenSSH_9.2p1\r\n", 22), Some(Protocol::Ssh));
    assert_eq!(client(Tcp, b"SSH-1.5-1.2.26\n", 20868), Some(Protocol::Ssh));
    assert_eq!(client(Tcp, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 8000), Some(Protocol::Http));
    assert_eq!(server(Tcp, b"HTTP/1.1 200 OK\r\n", 80), Some(Protocol::Http));
    assert_eq!(client(Tcp, &[0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20], 23), Some(Protocol::Telnet));
    assert_eq!(
        session(
            Tcp,
            b"CONNECT example.org:443 HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            3128
        ),
        Some(Protocol::HttpConnect)
    );
}

#[test]
fn shell_text_is_no_protocol() {
    for text in [
        &b"bash: no job control in this shell\n"[..],
        b"uid=0(root) gid=0(root) groups=0(root)\n",
        b"whoami\n",
        b"$ ",
        b"Microsoft Windows [Version 10.0.17763.1]\r\n",
    ] {
        for port in [443, 4444, 80, 53, 110, 5222] {
            for t in [Tcp, Udp] {
                assert_eq!(client(t, text, port), None, "{text:?} on {port}");
                assert_eq!(server(t, text, port), None, "{text:?} on {port}");
            }
        }
    }
    // A stager's first bytes: a little-endian length, then code.
    let mut stage = 240u32.to_le_bytes().to_vec();
    stage.extend([0xfc, 0xe8, 0x82, 0x00, 0x00, 0x00, 0x60, 0x89, 0xe5]);
    assert_eq!(server(Tcp, &stage, 4444), None);
    assert_eq!(server(Tcp, &stage, 443), None);
}

#[test]
fn mail_greetings_and_commands_agree() {
    let pop3 = b"+OK POP server ready H mimap4 0MHoUr-1VD\r\n";
    assert_eq!(server(Tcp, pop3, 110), Some(Protocol::Pop3));
    assert_eq!(session(Tcp, b"CAPA\r\n", pop3, 110), Some(Protocol::Pop3));
    // On another port the greeting alone is weak, but the client's CAPA agrees.
    assert_eq!(session(Tcp, b"CAPA\r\n", b"+OK ready\r\n", 2110), Some(Protocol::Pop3));
    let smtp = b"220 mx.example.org ESMTP Postfix\r\n";
    assert_eq!(session(Tcp, b"EHLO client\r\n", smtp, 25), Some(Protocol::Smtp));
    let ftp = b"220 (vsFTPd 3.0.3)\r\n";
    assert_eq!(session(Tcp, b"USER anonymous\r\n", ftp, 21), Some(Protocol::Ftp));
    assert_eq!(server(Tcp, b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", 143), Some(Protocol::Imap));
    assert_eq!(client(Tcp, b"a001 CAPABILITY\r\n", 143), Some(Protocol::Imap));
    // `USER` alone is POP3 or FTP: the greeting decides.
    assert_eq!(session(Tcp, b"USER bob\r\n", b"+OK hello\r\n", 9999), Some(Protocol::Pop3));
    assert_eq!(session(Tcp, b"USER bob\r\n", b"220 FTP ready\r\n", 9999), Some(Protocol::Ftp));
}

#[test]
fn chat_and_brokers() {
    assert_eq!(client(Tcp, b"NICK joe\r\nUSER joe 0 * :Joe\r\n", 6667), Some(Protocol::Irc));
    assert_eq!(
        server(Tcp, b":irc.example.net NOTICE * :*** Looking up your hostname\r\n", 6667),
        Some(Protocol::Irc)
    );
    assert_eq!(
        session(
            Tcp,
            b"<?xml version='1.0' ?>",
            b"<?xml version='1.0'?><stream:stream id='1' xmlns='jabber:client'>",
            5222
        ),
        Some(Protocol::Xmpp)
    );
    assert_eq!(client(Tcp, b"WA\x01\x05\x00\x00\x17\xf8\x05", 443), Some(Protocol::Whatsapp));
    let mut connect = vec![0x10, 0x10, 0x00, 0x04];
    connect.extend(b"MQTT\x04\x02\x00\x3c\x00\x04abcd");
    assert_eq!(session(Tcp, &connect, &[0x20, 0x02, 0x00, 0x00], 1883), Some(Protocol::Mqtt));
    assert_eq!(client(Tcp, b"AMQP\x00\x00\x09\x01", 5672), Some(Protocol::Amqp));
}

#[test]
fn databases() {
    // MySQL greeting: length 74, sequence 0, protocol 10, "8.0.36\0".
    let mut greet = vec![74, 0, 0, 0, 0x0a];
    greet.extend(b"8.0.36\0");
    greet.resize(78, 0x41);
    assert_eq!(server(Tcp, &greet, 3306), Some(Protocol::Mysql));
    assert_eq!(server(Tcp, &greet, 33306), Some(Protocol::Mysql));
    let mut ssl = 8u32.to_be_bytes().to_vec();
    ssl.extend(80_877_103u32.to_be_bytes());
    assert_eq!(session(Tcp, &ssl, b"S", 5432), Some(Protocol::Postgresql));
    assert_eq!(session(Tcp, &ssl, b"S", 15432), Some(Protocol::Postgresql));
    assert_eq!(session(Tcp, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", 6379), Some(Protocol::Redis));
    let mut op_msg = 40u32.to_le_bytes().to_vec();
    op_msg.extend(7u32.to_le_bytes());
    op_msg.extend(0u32.to_le_bytes());
    op_msg.extend(2013u32.to_le_bytes());
    op_msg.resize(40, 0);
    assert_eq!(client(Tcp, &op_msg, 27017), Some(Protocol::Mongodb));
}

#[test]
fn windows_directory_proxies_and_industrial() {
    let mut smb2 = vec![0, 0, 0, 0x44, 0xfe, b'S', b'M', b'B'];
    smb2.resize(0x48, 0);
    assert_eq!(client(Tcp, &smb2, 445), Some(Protocol::Smb));
    assert_eq!(client(Tcp, &smb2, 50000), Some(Protocol::Smb));
    let rdp = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
    assert_eq!(client(Tcp, &rdp, 3389), Some(Protocol::Rdp));
    assert_eq!(session(Tcp, b"RFB 003.008\n", b"RFB 003.008\n", 5901), Some(Protocol::Vnc));
    // SOCKS5: greeting, then the method chosen; weak each, but they agree.
    assert_eq!(client(Tcp, &[5, 1, 0], 4444), None);
    assert_eq!(session(Tcp, &[5, 1, 0], &[5, 0], 4444), Some(Protocol::Socks));
    assert_eq!(
        session(Tcp, &[4, 1, 0, 80, 10, 0, 0, 1, b'u', 0], &[0, 90, 0, 0, 0, 0, 0, 0], 1080),
        Some(Protocol::Socks)
    );
    let dnp3 = [
        0x05, 0x64, 0x0a, 0x44, 0x03, 0x00, 0x04, 0x00, 0x7c, 0xae, 0xe6, 0xf7, 0x82, 0x10, 0x00, 0x4f, 0xbd,
    ];
    assert_eq!(server(Tcp, &dnp3, 20000), Some(Protocol::Dnp3));
    let modbus = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
    assert_eq!(client(Tcp, &modbus, 502), Some(Protocol::Modbus));
    // An LDAP bind request: SEQUENCE { INTEGER 1, [APPLICATION 0] … }.
    let ldap = [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00];
    assert_eq!(client(Tcp, &ldap, 389), Some(Protocol::Ldap));
    // Kerberos AS-REQ over TCP: length, [APPLICATION 10], a SEQUENCE.
    let mut krb = 8u32.to_be_bytes().to_vec();
    krb.extend([0x6a, 0x06, 0x30, 0x04, 0xa1, 0x02, 0x02, 0x05]);
    assert_eq!(client(Tcp, &krb, 88), Some(Protocol::Kerberos));
}

#[test]
fn quic_in_its_versions() {
    let initial = |version: u32| {
        let mut p = vec![0xc3];
        p.extend(version.to_be_bytes());
        p.push(8);
        p.extend([1; 8]);
        p.push(0);
        p.resize(1200, 0);
        p
    };
    for v in [0x0000_0001, 0x6b33_43cf, 0xff00_001d, 0x5130_3530] {
        assert_eq!(client(Udp, &initial(v), 443), Some(Protocol::Quic), "{v:x}");
        assert_eq!(client(Udp, &initial(v), 51234), Some(Protocol::Quic), "{v:x}");
    }
    assert_eq!(client(Udp, &initial(0x1234_5678), 51234), None);
    // gQUIC Q043: public flags (version and 8-byte connection id), the id, "Q043".
    let mut q043 = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8];
    q043.extend(b"Q043");
    q043.resize(1350, 0);
    assert_eq!(client(Udp, &q043, 443), Some(Protocol::Quic));
    // Short headers: only on QUIC's port, or after an Initial the other way.
    let mut short = vec![0x43u8];
    short.extend((0..40u8).map(|i| i.wrapping_mul(97) ^ 0xa5));
    assert_eq!(client(Udp, &short, 443), Some(Protocol::Quic));
    assert_eq!(client(Udp, &short, 40000), None);
    assert_eq!(session(Udp, &initial(1), &short, 40000), Some(Protocol::Quic));
}

#[test]
fn calls_vpns_and_tunnels() {
    let mut binding = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    binding.extend([7; 12]);
    binding.extend([0x00, 0x19, 0x00, 0x04, 0x11, 0, 0, 0]);
    assert_eq!(client(Udp, &binding, 61156), Some(Protocol::Stun));
    assert_eq!(client(Tcp, &binding, 3478), Some(Protocol::Stun));
    // TURN ChannelData: weak alone, STUN when the other side agrees.
    let channel = [0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4];
    assert_eq!(session(Udp, &binding, &channel, 3478), Some(Protocol::Stun));
    // DTLS ClientHello record.
    let mut dtls = vec![0x16, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x44];
    dtls.resize(13 + 0x44, 1);
    assert_eq!(client(Udp, &dtls, 61457), Some(Protocol::Dtls));
    let mut wg = vec![1, 0, 0, 0];
    wg.resize(148, 9);
    assert_eq!(client(Udp, &wg, 41641), Some(Protocol::Wireguard));
    let mut wg_data = vec![4, 0, 0, 0];
    wg_data.resize(16 + 64, 9);
    assert_eq!(client(Udp, &wg_data, 41641), Some(Protocol::Wireguard));
    // OpenVPN hard reset (opcode 7, key 0), session id, packet id …
    let mut plain = vec![0x38, 1, 2, 3, 4, 5, 6, 7, 8];
    plain.extend([0, 0, 0, 0, 0]);
    assert_eq!(client(Udp, &plain, 40001), Some(Protocol::Openvpn));
    // With tls-auth the reset is keyed: weak alone, agreed by the server's reset.
    let mut keyed = vec![0x38];
    keyed.resize(42, 5);
    let mut answer = vec![0x40];
    answer.resize(54, 6);
    assert_eq!(client(Udp, &keyed, 1194), Some(Protocol::Openvpn));
    assert_eq!(client(Udp, &keyed, 40001), None);
    assert_eq!(session(Udp, &keyed, &answer, 40001), Some(Protocol::Openvpn));
    // IKEv2 IKE_SA_INIT behind the NAT-T marker on 4500, and ESP there.
    let mut ike = vec![0, 0, 0, 0];
    ike.extend([9; 8]);
    ike.extend([0; 8]);
    ike.extend([0x21, 0x20, 34, 0x08, 0, 0, 0, 0]);
    ike.extend(40u32.to_be_bytes());
    ike.resize(44, 0);
    assert_eq!(client(Udp, &ike, 4500), Some(Protocol::Ike));
    let mut esp = vec![0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 7];
    esp.resize(120, 3);
    assert_eq!(client(Udp, &esp, 4500), Some(Protocol::Ipsec));
    assert_eq!(client(Udp, &esp, 40500), None);
    assert_eq!(client(Udp, &[0xff], 4500), Some(Protocol::Ipsec));
    // Teredo: an IPv6 header whose payload length fits.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 12, 58, 21];
    v6.resize(52, 0);
    assert_eq!(client(Udp, &v6, 3544), Some(Protocol::Teredo));
    // GTP-U G-PDU with its length.
    let mut gtpu = vec![0x30, 0xff, 0x00, 0x10, 1, 2, 3, 4];
    gtpu.resize(24, 0x45);
    assert_eq!(client(Udp, &gtpu, 2152), Some(Protocol::Gtp));
    assert_eq!(
        client(Udp, b"INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n", 5060),
        Some(Protocol::Sip)
    );
    // RTCP receiver report, exact length; RTP is weak on its own.
    let rr =
        [0x81, 201, 0, 7, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(client(Udp, &rr, 40000), Some(Protocol::Rtcp));
    // RTP fits most binary data: one packet names nothing, even both ways; the stream's
    // next packet (same source, next sequence number) does.
    let rtp = |seq: u8| [0x80, 0x60, 0, seq, 0, 0, 0, 160, 1, 2, 3, 4, 0xd9, 0x17, 0xe3, 0x9c];
    assert_eq!(client(Udp, &rtp(1), 40000), None);
    assert_eq!(session(Udp, &rtp(1), &rtp(7), 40000), None);
    let mut id = Identity::default();
    id.observe(at(Udp, 40000), 0, &rtp(1), 16);
    id.observe(at(Udp, 40000), 0, &rtp(2), 16);
    assert_eq!(id.session(at(Udp, 40000)).map(|(p, _)| p), Some(Protocol::Rtp));
    let mut id = Identity::default();
    id.observe(at(Udp, 40000), 0, &rtp(1), 16);
    id.observe(at(Udp, 40000), 0, &rtp(9), 16);
    assert_eq!(id.session(at(Udp, 40000)), None, "sequence numbers far apart are no stream");
}

#[test]
fn infrastructure_over_udp() {
    let query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1];
    assert_eq!(client(Udp, &query, 53), Some(Protocol::Dns));
    assert_eq!(client(Udp, &query, 5353), Some(Protocol::Mdns));
    assert_eq!(client(Udp, &query, 5355), Some(Protocol::Llmnr));
    let mut ntp = vec![0x23, 0, 6, 0xe9];
    ntp.resize(48, 0);
    assert_eq!(client(Udp, &ntp, 123), Some(Protocol::Ntp));
    assert_eq!(client(Udp, &ntp, 40123), None);
    assert_eq!(
        client(Udp, b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n", 1900),
        Some(Protocol::Ssdp)
    );
    let mut radius = vec![1, 7, 0, 20];
    radius.resize(20, 0);
    assert_eq!(client(Udp, &radius, 1812), Some(Protocol::Radius));
    assert_eq!(client(Udp, b"<34>Oct 11 22:14:15 host su: 'su root' failed", 514), Some(Protocol::Syslog));
    let snmp = [0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c'];
    assert_eq!(client(Udp, &snmp, 161), Some(Protocol::Snmp));
    let mut dhcp = vec![1, 1, 6, 0];
    dhcp.resize(236, 0);
    dhcp.extend([99, 130, 83, 99, 53, 1, 1]);
    assert_eq!(client(Udp, &dhcp, 67), Some(Protocol::Dhcp));
    assert_eq!(
        client(Udp, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", 6881),
        Some(Protocol::Bittorrent)
    );
    let mut btc = vec![0xf9, 0xbe, 0xb4, 0xd9];
    btc.extend(b"version\0\0\0\0\0");
    btc.extend([0x55, 0, 0, 0]);
    assert_eq!(client(Tcp, &btc, 55317), Some(Protocol::Bitcoin));
    assert_eq!(client(Tcp, b"GNUTELLA CONNECT/0.6\r\nNode: x\r\n", 6346), Some(Protocol::Gnutella));
    assert_eq!(client(Tcp, b"ZBXD\x01\x0a\0\0\0\0\0\0\0agent.ping", 10050), Some(Protocol::Zabbix));
    assert_eq!(client(Tcp, b"8=FIX.4.2\x019=0075\x0135=A\x0134=1\x01", 4000), Some(Protocol::Fix));
    let mut kcp = vec![10, 0, 0, 0, 81, 0, 128, 0];
    kcp.extend([0; 12]);
    kcp.extend(4u32.to_le_bytes());
    kcp.extend([1, 2, 3, 4]);
    assert_eq!(client(Udp, &kcp, 8000), Some(Protocol::Kcp));
}

#[test]
fn a_known_protocol_on_another_port_is_no_mismatch_but_text_is() {
    assert!(mismatch(Tcp, 443, [Protocol::Text, Protocol::Unseen]));
    assert!(mismatch(Tcp, 443, [Protocol::Binary, Protocol::Text]));
    assert!(!mismatch(Tcp, 443, [Protocol::Tls, Protocol::Tls]));
    assert!(!mismatch(Tcp, 443, [Protocol::Ssh, Protocol::Ssh]));
    assert!(!mismatch(Tcp, 443, [Protocol::Unseen, Protocol::Unseen]));
    assert!(mismatch(Tcp, 53, [Protocol::Text, Protocol::Text]));
    assert!(!mismatch(Tcp, 4444, [Protocol::Text, Protocol::Text]));
    // rlogin has no probe: nothing can contradict it.
    assert!(!mismatch(Tcp, 513, [Protocol::Text, Protocol::Text]));
}

#[test]
fn a_reply_from_a_well_known_port_is_named_over_udp() {
    // An SSDP answer comes from the device's 1900 to the asker's port, which opened no
    // flow the sensor saw: the first datagram is the server's.
    let reply = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n";
    let place = Place::new(Udp, 1900, 57547);
    assert_eq!(
        probe(place, Role::Client, reply, reply.len() as u32).strong.pick(place),
        Some(Protocol::Ssdp)
    );
    // Over TCP the responder's port alone hints.
    let place = Place::new(Tcp, 1900, 57547);
    assert_eq!(
        probe(place, Role::Client, reply, reply.len() as u32).strong.pick(place),
        Some(Protocol::Http)
    );
}

#[test]
fn ports_name_their_service_per_transport() {
    assert_eq!(service(Tcp, 443).map(|r| r.protocol), Some(Protocol::Tls));
    assert_eq!(service(Udp, 443).map(|r| r.protocol), Some(Protocol::Quic));
    assert_eq!(service(Udp, 53).map(|r| r.protocol), Some(Protocol::Dns));
    assert_eq!(service(Tcp, 5905).map(|r| r.protocol), Some(Protocol::Vnc));
    assert!(service(Tcp, 4444).is_none());
    assert!(service(Tcp, 22).is_some_and(|r| r.traits.interactive));
}

#[test]
fn a_datagram_flow_whose_sides_repeat_one_tag_shares_it() {
    let mut id = Identity::default();
    let a = [0xdc, 0x4c, 0x00, 0x29, 1, 2, 3];
    let b = [0xdc, 0x4c, 0x00, 0x29, 9, 9, 9, 9, 9];
    id.observe(at(Udp, 536), 0, &a, 7);
    id.observe(at(Udp, 536), 1, &b, 9);
    assert!(id.shared_tag());
    let mut id = Identity::default();
    id.observe(at(Udp, 4444), 0, b"id\n", 3);
    id.observe(at(Udp, 4444), 1, b"uid=0(root)\n", 12);
    assert!(!id.shared_tag());
    let mut id = Identity::default();
    id.observe(at(Udp, 4444), 0, &[0; 8], 8);
    id.observe(at(Udp, 4444), 1, &[0; 8], 8);
    assert!(!id.shared_tag(), "a run of zeros is no tag");
}

#[test]
fn probes_survive_any_bytes() {
    // Every prefix of every vector above, and some noise, through every probe.
    let mut noise = Vec::new();
    let mut x = 0x1234_5678u32;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    for len in 0..300 {
        for wire in [0, 1, len as u32, len as u32 + 1000, u32::MAX] {
            for t in [Tcp, Udp] {
                for role in [Role::Client, Role::Server] {
                    let _ = probe(at(t, 443), role, &noise[..len], wire);
                    let _ = probe(at(t, 4500), role, &[0xff; 300][..len], wire);
                    let _ = probe(at(t, 53), role, &[0; 300][..len], wire);
                }
            }
        }
    }
}
