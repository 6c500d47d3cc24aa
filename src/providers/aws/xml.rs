//! EC2 Query API responses: namespace-agnostic and order-agnostic; lists are wrappers with
//! `<item>` children that may be empty or missing; errors come as `<Response>` or
//! `<ErrorResponse>`.

use chrono::{DateTime, Utc};
use roxmltree::{Document, Node};

fn child<'a>(node: Node<'a, 'a>, name: &str) -> Option<Node<'a, 'a>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text(node: Node, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

fn items<'a>(node: Node<'a, 'a>, list: &str) -> Vec<Node<'a, 'a>> {
    child(node, list)
        .map(|l| {
            l.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "item")
                .collect()
        })
        .unwrap_or_default()
}

fn tags(node: Node) -> Vec<(String, String)> {
    items(node, "tagSet")
        .into_iter()
        .map(|t| {
            (
                text(t, "key").unwrap_or_default(),
                text(t, "value").unwrap_or_default(),
            )
        })
        .collect()
}

/// One page of a list: the items and the token of the next page.
pub type Page<T> = Result<(Vec<T>, Option<String>), String>;

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Snapshot {
    pub id: String,
    pub volume_id: String,
    pub status: String,
    pub progress: String,
    pub start_time: Option<DateTime<Utc>>,
    pub description: String,
    pub volume_size_gib: u64,
    pub encrypted: bool,
    pub tags: Vec<(String, String)>,
    /// For copies: the snapshot it was copied from (in `description` by AWS convention).
    pub source_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Volume {
    pub id: String,
    pub size_gib: u64,
    pub zone: String,
    pub state: String,
    pub attachments: Vec<Ec2Attachment>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Attachment {
    pub instance: String,
    pub device: String,
    /// `attaching`, `attached`, `detaching`, `detached`.
    pub state: String,
}

/// The text of the first element called `name` anywhere in a response.
pub fn field(body: &str, name: &str) -> Option<String> {
    let doc = Document::parse(body).ok()?;
    doc.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
}

/// The error code and message of an error document, if it is one.
pub fn error(body: &str) -> Option<(String, String)> {
    let doc = Document::parse(body).ok()?;
    let root = doc.root_element();
    let error = root
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Error")?;
    Some((
        text(error, "Code").unwrap_or_default(),
        text(error, "Message").unwrap_or_default(),
    ))
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    crate::providers::iso_time::parse_cloud_time(&s?)
}

/// Snapshots and the next page token.
pub fn snapshots(body: &str) -> Page<Ec2Snapshot> {
    let doc = Document::parse(body).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeSnapshotsResponse" {
        return Err(format!(
            "unexpected root element <{}>",
            root.tag_name().name()
        ));
    }
    let list = items(root, "snapshotSet")
        .into_iter()
        .map(|i| {
            let description = text(i, "description").unwrap_or_default();
            Ok(Ec2Snapshot {
                id: text(i, "snapshotId").ok_or("snapshot without snapshotId")?,
                volume_id: text(i, "volumeId").unwrap_or_default(),
                status: text(i, "status").unwrap_or_default(),
                progress: text(i, "progress").unwrap_or_default(),
                start_time: time(text(i, "startTime")),
                volume_size_gib: text(i, "volumeSize")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                encrypted: text(i, "encrypted").as_deref() == Some("true"),
                tags: tags(i),
                source_region: description
                    .strip_prefix("Copied for DestinationAmi")
                    .map(|_| String::new())
                    .or_else(|| {
                        description
                            .split("from ")
                            .nth(1)
                            .and_then(|rest| rest.split(':').next())
                            .filter(|r| r.contains('-'))
                            .map(str::to_string)
                    }),
                description,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((list, text(root, "nextToken").filter(|t| !t.is_empty())))
}

pub fn volumes(body: &str) -> Page<Ec2Volume> {
    let doc = Document::parse(body).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeVolumesResponse" {
        return Err(format!(
            "unexpected root element <{}>",
            root.tag_name().name()
        ));
    }
    let list = items(root, "volumeSet")
        .into_iter()
        .map(|i| Ec2Volume {
            id: text(i, "volumeId").unwrap_or_default(),
            size_gib: text(i, "size").and_then(|s| s.parse().ok()).unwrap_or(0),
            zone: text(i, "availabilityZone").unwrap_or_default(),
            state: text(i, "status").unwrap_or_default(),
            attachments: items(i, "attachmentSet")
                .into_iter()
                .map(|a| Ec2Attachment {
                    instance: text(a, "instanceId").unwrap_or_default(),
                    device: text(a, "device").unwrap_or_default(),
                    state: text(a, "status").unwrap_or_default(),
                })
                .collect(),
            tags: tags(i),
        })
        .collect();
    Ok((list, text(root, "nextToken").filter(|t| !t.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_moto_and_real_aws_shapes() {
        let moto = r#"<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><snapshotSet><item><tagSet><item><key>purpose</key><value>recovery</value></item></tagSet><snapshotId>snap-843af8f3b34866fd0</snapshotId><volumeId>vol-a1b1e9f6b7fc83ae6</volumeId><status>completed</status><startTime>2026-11-28T11:20:55.000Z</startTime><progress>100%</progress><ownerId>123456789012</ownerId><description>pre-change</description><volumeSize>8</volumeSize><encrypted>false</encrypted></item></snapshotSet><requestId>request-id</requestId></DescribeSnapshotsResponse>"#;
        let (list, next) = snapshots(moto).unwrap();
        assert_eq!(next, None);
        assert_eq!(list[0].id, "snap-843af8f3b34866fd0");
        assert_eq!(list[0].tags, vec![("purpose".into(), "recovery".into())]);
        assert_eq!(
            list[0].start_time.unwrap().to_rfc3339(),
            "2026-11-28T11:20:55+00:00"
        );
        let real = r#"<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><snapshotSet/><nextToken>abc</nextToken></DescribeSnapshotsResponse>"#;
        assert_eq!(snapshots(real).unwrap(), (vec![], Some("abc".into())));
    }

    #[test]
    fn both_error_roots() {
        let a = "<Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>nope</Message></Error></Errors><RequestID>r</RequestID></Response>";
        let b = "<ErrorResponse><Errors><Error><Code>AuthFailure</Code><Message>bad</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
        assert_eq!(
            error(a),
            Some(("InvalidVolume.NotFound".into(), "nope".into()))
        );
        assert_eq!(error(b), Some(("AuthFailure".into(), "bad".into())));
        assert!(snapshots("<html>Internal Server Error</html>").is_err());
    }
}
