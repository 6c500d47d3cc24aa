//! Tencent Cloud's TC3-HMAC-SHA256 signature (API 3.0): a canonical request over the
//! method, `/`, the signed headers (`content-type;host`) and the SHA-256 of the exact body,
//! signed with a key derived from `"TC3" + SecretKey`, the UTC date of the timestamp, the
//! service and `tc3_request`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// What one request signs.
pub struct Tc3Request<'a> {
    pub service: &'a str,
    pub host: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    /// Unix seconds, sent as `X-TC-Timestamp`.
    pub timestamp: i64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The UTC date (`yyyy-MM-dd`) of `timestamp`, as the credential scope needs it.
pub fn date_of(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

pub fn canonical_request(r: &Tc3Request) -> String {
    format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        r.content_type.to_lowercase(),
        r.host.to_lowercase(),
        sha256_hex(r.body)
    )
}

pub fn string_to_sign(r: &Tc3Request) -> String {
    format!(
        "TC3-HMAC-SHA256\n{}\n{}/{}/tc3_request\n{}",
        r.timestamp,
        date_of(r.timestamp),
        r.service,
        sha256_hex(canonical_request(r).as_bytes())
    )
}

/// The lowercase hex signature of `r` with `secret_key`.
pub fn signature(r: &Tc3Request, secret_key: &str) -> String {
    let date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), &date_of(r.timestamp));
    let service = hmac_sha256(&date, r.service);
    let signing = hmac_sha256(&service, "tc3_request");
    hex(&hmac_sha256(&signing, &string_to_sign(r)))
}

/// The `Authorization` header value.
pub fn authorization(r: &Tc3Request, secret_id: &str, secret_key: &str) -> String {
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{}/{}/tc3_request, SignedHeaders=content-type;host, Signature={}",
        date_of(r.timestamp),
        r.service,
        signature(r, secret_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official vector (Tencent "Signature v3" doc, English version).
    #[test]
    fn the_official_vector_signs_as_documented() {
        let body = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let r = Tc3Request {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            body: body.as_bytes(),
            timestamp: 1551113065,
        };
        assert_eq!(
            sha256_hex(r.body),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            string_to_sign(&r),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        assert_eq!(
            signature(&r, secret_key),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            authorization(
                &r,
                "AKID**********************0123456789EXAMPLE",
                secret_key
            ),
            "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    /// The date is the UTC date, not the local (UTC+8) one, and the body hash is of the
    /// exact bytes (the CBS vector derived in the reference).
    #[test]
    fn a_cbs_request_uses_the_utc_date_and_hashes_the_exact_body() {
        let r = Tc3Request {
            service: "cbs",
            host: "cbs.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            body: br#"{"Filters":[{"Name":"disk-id","Values":["disk-abc12345"]}],"Limit":100}"#,
            timestamp: 1551113065,
        };
        assert_eq!(
            sha256_hex(r.body),
            "e5026c7afc47f4da8f781d9533900dfd4662fbaebc11566927561abd04547b30"
        );
        assert_eq!(
            sha256_hex(canonical_request(&r).as_bytes()),
            "95456d57d2045577ed7b9a71b6851c91227649497efdfb24a1940dcd0d1d0ac6"
        );
        assert_eq!(
            signature(&r, "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
            "8673cd8f5d23ae0a9a83e1d45568b6910c437a93842383800eba154d5d4af870"
        );
    }
}
