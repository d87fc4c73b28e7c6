//! What the fakes of the Chinese platforms' routers share: an MD5 written
//! here from RFC 1321 (so a signature is checked by code that is not
//! kpid's signer nor the crate it uses), and the form body of a request
//! (log capture for the secret checks is in `common::logs`).
#![allow(dead_code)]

use std::collections::BTreeMap;

/// Per-round shift amounts (RFC 1321, 3.4).
const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// MD5 of `input`, RFC 1321.
pub fn md5(input: &[u8]) -> [u8; 16] {
    // T[i] = floor(2^32 × |sin(i + 1)|); checked by the RFC's test suite below.
    let t: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = input.to_vec();
    let bits = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let sum = a.wrapping_add(f).wrapping_add(t[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(sum.rotate_left(SHIFTS[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, w) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

pub fn md5_upper_hex(input: &str) -> String {
    md5(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The sign both platforms expect: uppercase MD5 of `secret + k1v1k2v2… +
/// secret` over the parameters sorted by name, `sign` left out (JD also
/// leaves out empty values; Pinduoduo's requests carry none).
pub fn expected_sign(form: &BTreeMap<String, String>, secret: &str) -> String {
    let joined: String = form
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}{v}"))
        .collect();
    md5_upper_hex(&format!("{secret}{joined}{secret}"))
}

/// An `application/x-www-form-urlencoded` body as a sorted map.
pub fn form(body: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{text}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn md5_matches_the_rfc_1321_test_suite() {
    let cases = [
        ("", "D41D8CD98F00B204E9800998ECF8427E"),
        ("a", "0CC175B9C0F1B6A831C399E269772661"),
        ("abc", "900150983CD24FB0D6963F7D28E17F72"),
        ("message digest", "F96B697D7CB7938D525A2F31AAF161D0"),
        (
            "abcdefghijklmnopqrstuvwxyz",
            "C3FCD3D76192E4007DFB496CCA67E13B",
        ),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57EDF4A22BE3C955AC49DA2E2107B67A",
        ),
    ];
    for (input, digest) in cases {
        assert_eq!(md5_upper_hex(input), digest, "md5({input:?})");
    }
    // Multi-byte text, as in the platforms' Chinese parameters:
    // python3 -c 'import hashlib;print(hashlib.md5("签名".encode()).hexdigest().upper())'
    assert_eq!(md5_upper_hex("签名"), "BE2525EBADE48DEE835E25C04F130725");
}
