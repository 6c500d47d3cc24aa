//! The Alibaba Cloud RPC signature (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`):
//! parameters sorted by name bytes, strict RFC 3986 encoding, `METHOD&%2F&encoded(query)`,
//! HMAC-SHA1 keyed with `secret&`, base64.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// RFC 3986: `A–Z a–z 0–9 - _ . ~` stay, everything else `%XY` (space is `%20`, `*` `%2A`).
pub fn percent_encode(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, SET).to_string()
}

/// `name=value&…` sorted by name bytes, both encoded.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// Base64 HMAC-SHA1 of the string to sign, keyed with `secret&`.
pub fn signature(method: &str, params: &[(String, String)], secret: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign(method, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn official_vector_a() {
        let params = p(&[
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Format", "XML"),
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Version", "2014-05-26"),
            ("SignatureVersion", "1.0"),
        ]);
        assert_eq!(
            string_to_sign("GET", &params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            signature("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
        let mut b = params.clone();
        b[0].0 = "TimeStamp".into();
        assert_eq!(
            signature("GET", &b, "testsecret"),
            "CT9X0VtwR86fNWSnsc6v8YGOjuE=",
            "vector B: the name bytes count"
        );
    }

    #[test]
    fn sdk_vector_d_and_encoding_edge_cases() {
        assert_eq!(
            signature("GET", &p(&[("query", "test"), ("body", "test")]), "secret"),
            "XlUyV4sXjOuX5FnjUz9IF9tm5rU="
        );
        let params = p(&[
            ("AccessKeyId", "testid"),
            ("Action", "CreateSnapshot"),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("DiskId", "d-bp1example0001"),
            ("SnapshotName", "recov:pre restore*~/x"),
            ("Description", "快照 before-rollback"),
            ("Tag.1.Key", "purpose"),
            ("Tag.1.Value", "data-recovery"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "00000000-0000-0000-0000-000000000001"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-01-02T03:04:05Z"),
            ("Version", "2014-05-26"),
        ]);
        assert!(
            canonical_query(&params)
                .contains("Description=%E5%BF%AB%E7%85%A7%20before-rollback&DiskId")
        );
        assert!(canonical_query(&params).contains("SnapshotName=recov%3Apre%20restore%2A~%2Fx"));
        assert_eq!(
            signature("GET", &params, "testsecret"),
            "umcVQu5v2bHjL9yjsC8hCmL+EHE="
        );
        let lower = p(&[
            ("AccessKeyId", "testid"),
            ("Action", "ApplyAutoSnapshotPolicy"),
            ("Format", "JSON"),
            ("regionId", "cn-hangzhou"),
            ("autoSnapshotPolicyId", "sp-bp1example"),
            ("diskIds", "[\"d-bp1a\",\"d-bp1b\"]"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "00000000-0000-0000-0000-000000000002"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-01-02T03:04:05Z"),
            ("Version", "2014-05-26"),
        ]);
        assert_eq!(
            signature("GET", &lower, "testsecret"),
            "15LZy6cpLZboimIamPSswdJoqds=",
            "lower-camel names sort after Version"
        );
    }
}
