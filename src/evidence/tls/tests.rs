//! Real handshake bytes (tests/fixtures/tls, README there names each source) checked
//! against values computed by independent tools, plus cut, malformed and foreign input.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/tls/", $name))
    };
}

// Made on loopback by tests/fixtures/tls/make.sh.
const OPENSSL12_CLIENT: &[u8] = fixture!("openssl12.client.bin");
const OPENSSL12_SERVER: &[u8] = fixture!("openssl12.server.bin");
const OPENSSL13_CLIENT: &[u8] = fixture!("openssl13.client.bin");
const OPENSSL13_SERVER: &[u8] = fixture!("openssl13.server.bin");
const PYTHON_CLIENT: &[u8] = fixture!("python.client.bin");

const ALL: &[&[u8]] =
    &[OPENSSL12_CLIENT, OPENSSL12_SERVER, OPENSSL13_CLIENT, OPENSSL13_SERVER, PYTHON_CLIENT];

fn client(buf: &[u8]) -> ClientHello {
    match parse_client(buf) {
        Parsed::Done(hello) => hello,
        other => panic!("expected a ClientHello, got {other:?}"),
    }
}

fn server(buf: &[u8], complete: bool) -> (ServerHello, Option<ServerCertificate>) {
    match parse_server(buf, complete) {
        Parsed::Done(flight) => flight,
        other => panic!("expected a ServerHello, got {other:?}"),
    }
}

/// Length of the first TLS record, header included.
fn first_record_len(buf: &[u8]) -> usize {
    5 + usize::from(u16::from_be_bytes([buf[3], buf[4]]))
}

#[test]
fn ja4_of_loopback_clients_matches_an_independent_implementation() {
    // Expected values computed from the pcaps make.sh leaves behind with FoxIO's
    // python/ja4.py on Debian's tshark 4.0.17, which dissects the hello on its own.
    // openssl s_client -tls1_2 -noservername, JA4_r:
    // t12i280600_002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,c009,
    // c00a,c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa_000a,000b,
    // 000d,0016,0017,0023_0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,
    // 0501,0601,0303,0301,0302,0402,0502,0602
    let openssl12 = client(OPENSSL12_CLIENT);
    assert_eq!(openssl12.ja4, "t12i280600_d943125447b4_e7e480e5a997");
    assert_eq!(openssl12.sni, None);
    assert!(openssl12.alpn.is_empty());
    assert_eq!(openssl12.versions, [0x0303]);

    // openssl s_client -servername c2.example.test -alpn h2,http/1.1
    let openssl13 = client(OPENSSL13_CLIENT);
    assert_eq!(openssl13.ja4, "t13d3111h2_e8f1e7e78f70_1f22a2ca17c4");
    assert_eq!(openssl13.sni.as_deref(), Some("c2.example.test"));
    assert_eq!(openssl13.alpn, ["h2", "http/1.1"]);
    assert_eq!(openssl13.versions, [0x0304, 0x0303, 0x0302, 0x0301]);
    assert_eq!((openssl13.cipher_count, openssl13.extension_count), (31, 11));

    // Python ssl.create_default_context(), server_hostname python.example.test
    let python = client(PYTHON_CLIENT);
    assert_eq!(python.ja4, "t13d181100_85036bcba153_d41ae481755e");
    assert_eq!(python.sni.as_deref(), Some("python.example.test"));
    assert!(python.alpn.is_empty());
}

#[test]
fn ja4_of_the_spec_example() {
    // technical_details/JA4.md "Example", with GREASE added where Chrome puts it.
    let ciphers = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
        0x009d, 0x002f, 0x0035,
    ];
    let extensions = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
        0xff01, 0x000b, 0x000a, 0x0015,
    ];
    let signature_algorithms = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
    let input = Ja4Input {
        version: 0x0304,
        has_sni: true,
        ciphers: &ciphers,
        extensions: &extensions,
        first_alpn: Some(b"h2"),
        signature_algorithms: &signature_algorithms,
    };
    assert_eq!(ja4(&input), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    // "If there are no signature algorithms ... the string ends without an underscore".
    let no_signatures = Ja4Input { signature_algorithms: &[], ..input };
    assert_eq!(ja4(&no_signatures), "t13d1516h2_8daaf6152771_6d807ffa2a79");
    let nothing = Ja4Input {
        version: 0x9999,
        has_sni: false,
        ciphers: &[],
        extensions: &[],
        first_alpn: None,
        signature_algorithms: &[],
    };
    assert_eq!(ja4(&nothing), "t00i000000_000000000000_000000000000");
}

#[test]
fn alpn_marker_follows_the_spec_examples() {
    let cases: &[(&[u8], &str)] = &[
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"x", "xx"),
        (b"", "00"),
        (&[0xab], "ab"),
        (&[0x20], "20"),
        (&[0xab, 0xcd], "ad"),
        (&[0x20, 0x61], "21"),
        (&[0x30, 0xab], "3b"),
        (&[0x61, 0x20], "60"),
        (&[0x30, 0x31, 0xab, 0xcd], "3d"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
    ];
    for (value, marker) in cases {
        assert_eq!(alpn_marker(Some(value)), *marker, "{value:02x?}");
    }
    assert_eq!(alpn_marker(None), "00");
}

#[test]
fn grease_values() {
    let grease: Vec<u16> = (0..=0xffff).filter(|&v| is_grease(v)).collect();
    assert_eq!(grease.len(), 16);
    assert_eq!(grease[0], 0x0a0a);
    assert_eq!(grease[15], 0xfafa);
    assert!(!is_grease(0x0a1a));
}

#[test]
fn tls12_server_flight_with_a_self_signed_certificate() {
    // openssl s_server -tls1_2 with a certificate from openssl req -x509 -subj /CN=shellsight-test
    let (hello, cert) = server(OPENSSL12_SERVER, false);
    assert_eq!(hello.version, 0x0303);
    assert_eq!(hello.cipher, 0xc030); // ECDHE-RSA-AES256-GCM-SHA384
    let cert = cert.expect("TLS 1.2 sends the certificate in clear");
    assert_eq!(cert.subject_cn.as_deref(), Some("shellsight-test"));
    assert_eq!(cert.issuer_cn.as_deref(), Some("shellsight-test"));
    assert!(cert.self_signed);
}

#[test]
fn tls13_server_hello_takes_the_version_from_supported_versions() {
    // It keeps 0x0303 in the legacy version field; JA4S says t13.._1302.
    assert_eq!(OPENSSL13_SERVER[9..11], [0x03, 0x03]);
    let (hello, cert) = server(OPENSSL13_SERVER, false);
    assert_eq!(hello, ServerHello { version: 0x0304, cipher: 0x1302 });
    assert_eq!(cert, None);
    assert_eq!(server(OPENSSL13_SERVER, true), (ServerHello { version: 0x0304, cipher: 0x1302 }, None));
}

#[test]
fn a_client_hello_cut_anywhere_needs_more() {
    for full in [OPENSSL12_CLIENT, OPENSSL13_CLIENT, PYTHON_CLIENT] {
        let end = first_record_len(full);
        for n in 0..end {
            assert_eq!(parse_client(&full[..n]), Parsed::NeedMore, "cut at {n}");
        }
        assert_eq!(client(&full[..end]), client(full));
    }
}

#[test]
fn a_server_flight_cut_in_the_certificate_waits_unless_complete() {
    let full = OPENSSL12_SERVER;
    let hello_end = first_record_len(full);
    let (hello, _) = server(full, false);
    for n in 0..hello_end {
        assert_eq!(parse_server(&full[..n], false), Parsed::NeedMore, "cut at {n}");
    }
    // Cut after the ServerHello and inside the certificate: wait for more, or give up
    // on the certificate when nothing more will come.
    let mut saw_certificate = false;
    for n in hello_end..=full.len() {
        match parse_server(&full[..n], false) {
            Parsed::NeedMore => assert_eq!(server(&full[..n], true), (hello, None)),
            Parsed::Done((h, Some(_))) => {
                assert_eq!(h, hello);
                saw_certificate = true;
            }
            other => panic!("cut at {n}: {other:?}"),
        }
    }
    assert!(saw_certificate);
}

#[test]
fn a_handshake_message_spanning_several_records_is_joined() {
    // Re-frame the first record's payload into records of at most 40 bytes.
    for (full, chunk) in [(OPENSSL13_CLIENT, 40), (OPENSSL12_SERVER, 40), (OPENSSL12_SERVER, 1)] {
        let end = first_record_len(full);
        let mut reframed = Vec::new();
        for piece in full[5..end].chunks(chunk) {
            reframed.extend_from_slice(&full[..3]);
            reframed.extend_from_slice(&u16::try_from(piece.len()).unwrap().to_be_bytes());
            reframed.extend_from_slice(piece);
        }
        reframed.extend_from_slice(&full[end..]);
        let (joined_client, joined_server) = (parse_client(&reframed), parse_server(&reframed, true));
        if full == OPENSSL13_CLIENT {
            assert_eq!(joined_client, Parsed::Done(client(full)));
        } else {
            assert_eq!(joined_server, Parsed::Done(server(full, true)));
        }
    }
}

#[test]
fn other_protocols_are_not_tls() {
    let foreign: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
        b"\x16\x02\x00",         // handshake type, but not a TLS version
        b"\x17\x03\x03\x00\x10", // application data first
        b"id\n",
    ];
    for buf in foreign {
        assert_eq!(parse_client(buf), Parsed::NotTls, "{buf:?}");
        assert_eq!(parse_server(buf, true), Parsed::NotTls, "{buf:?}");
    }
    // Each direction in the other's place: a ClientHello is not a server flight.
    assert_eq!(parse_server(OPENSSL13_CLIENT, true), Parsed::NotTls);
    assert_eq!(parse_client(OPENSSL13_SERVER), Parsed::NotTls);
}

#[test]
fn version_names_for_ecs() {
    assert_eq!(version_name(0x0304), "1.3");
    assert_eq!(version_name(0x0303), "1.2");
    assert_eq!(version_name(0x0301), "1.0");
    assert_eq!(version_name(0x0300), "3.0");
    assert_eq!(version_name(0x7f1c), "unknown");
}

#[test]
fn no_input_panics() {
    // Every prefix, and every byte flipped by one bit, zeroed and set to 0xff (which
    // covers every length field lying in both directions), through both parsers.
    let mut variant = Vec::new();
    for full in ALL {
        for n in 0..=full.len() {
            let _ = parse_client(&full[..n]);
            let _ = parse_server(&full[..n], n % 2 == 0);
        }
        for i in 0..full.len() {
            for byte in [full[i] ^ (1 << (i % 8)), 0x00, 0xff] {
                variant.clear();
                variant.extend_from_slice(full);
                variant[i] = byte;
                let _ = parse_client(&variant);
                let _ = parse_server(&variant, true);
                let _ = parse_server(&variant, false);
            }
        }
    }
}
