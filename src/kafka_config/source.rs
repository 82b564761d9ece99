//! Where configuration comes from: a `.properties` file, the output of
//! `kafka-configs.sh --describe`, or `key=value` given on the command line.

use std::path::Path;

/// Where a key was read: a file and its line, or the command line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub source: String,
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.source),
            None => f.write_str(&self.source),
        }
    }
}

/// The source of a `key=value` given as an argument.
pub const COMMAND_LINE: &str = "the command line";

/// One `key=value` setting, where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// The settings one command-line argument stands for: `key=value` itself
/// when it has an `=` and names no file, else the file it names.
pub fn entries(arg: &str) -> Result<Vec<Entry>, String> {
    let path = Path::new(arg);
    if !path.exists()
        && let Some((key, value)) = arg.split_once('=')
    {
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{arg:?}: a setting needs a key before its '='"));
        }
        return Ok(vec![Entry {
            key: key.to_string(),
            value: value.trim().to_string(),
            origin: Origin {
                source: COMMAND_LINE.into(),
                line: None,
            },
        }]);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{arg}: cannot read: {e}"))?;
    let source = arg.to_string();
    let text = String::from_utf8_lossy(&bytes);
    if is_describe_output(&text) {
        describe_output(&text, &source)
    } else {
        properties(&bytes, &source)
    }
}

/// `kafka-configs.sh --describe` prints a heading per entity ("Dynamic
/// configs for topic t are:", "All configs for broker 1 are:") and then
/// one indented `key=value sensitive=... synonyms={...}` line per setting.
fn is_describe_output(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.contains("configs for ") && l.ends_with("are:"))
}

fn describe_output(text: &str, source: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let origin = Origin {
            source: source.to_string(),
            line: Some(i + 1),
        };
        let t = line.trim();
        if t.is_empty() || (t.contains("configs for ") && t.ends_with("are:")) {
            continue;
        }
        // The value ends where the tool's own annotations begin.
        let setting = t.split(" sensitive=").next().unwrap_or(t);
        let Some((key, value)) = setting.split_once('=') else {
            return Err(format!(
                "{origin}: expected key=value, as kafka-configs --describe prints it, not {t:?}"
            ));
        };
        out.push(Entry {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            origin,
        });
    }
    Ok(out)
}

fn properties(bytes: &[u8], source: &str) -> Result<Vec<Entry>, String> {
    use java_properties::{LineContent, PropertiesIter};
    let mut out = Vec::new();
    for line in PropertiesIter::new(bytes) {
        let line = line.map_err(|e| match e.line_number() {
            Some(n) => format!("{source}:{n}: {e}"),
            None => format!("{source}: {e}"),
        })?;
        let n = line.line_number();
        if let LineContent::KVPair(key, value) = line.consume_content() {
            out.push(Entry {
                key,
                value,
                origin: Origin {
                    source: source.to_string(),
                    line: Some(n),
                },
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_configs_describe_output_with_its_annotations() {
        let text = "Dynamic configs for topic orders are:\n  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}\n  unclean.leader.election.enable=false sensitive=false synonyms={}\n";
        assert!(is_describe_output(text));
        let e = describe_output(text, "t.txt").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].key.as_str(), e[0].value.as_str()),
            ("min.insync.replicas", "2")
        );
        assert_eq!(e[1].origin.line, Some(3));
    }

    #[test]
    fn reads_properties_with_comments_continuations_and_colons() {
        let text = b"# a comment\nacks: all\nretries = \\\n  3\n! another\n";
        let e = properties(text, "p").unwrap();
        let kv: Vec<_> = e
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(kv, [("acks", "all"), ("retries", "3")]);
        assert_eq!(e[0].origin.line, Some(2));
    }

    #[test]
    fn a_pair_on_the_command_line_is_a_setting() {
        let e = entries("min.insync.replicas=3").unwrap();
        assert_eq!(e[0].key, "min.insync.replicas");
        assert_eq!(e[0].origin.line, None);
        assert!(entries("=3").unwrap_err().contains("key"));
        assert!(
            entries("no-such-file.properties")
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
