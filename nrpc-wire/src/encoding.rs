//! Payload encodings, chosen by a subject's last token.

/// How message payloads are encoded; chosen by the subject's last token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Encoding {
    /// Protobuf binary encoding (no suffix, or `.protobuf`).
    #[default]
    Protobuf,
    /// Protobuf JSON mapping (`.json` suffix).
    Json,
}

impl Encoding {
    /// The subject suffix a client appends (`None` for protobuf, as Go does).
    pub fn subject_suffix(self) -> Option<&'static str> {
        match self {
            Encoding::Protobuf => None,
            Encoding::Json => Some("json"),
        }
    }

    /// The encoding a subject's last token names, if it names one.
    pub fn from_suffix(token: &str) -> Option<Encoding> {
        match token {
            "json" => Some(Encoding::Json),
            "protobuf" => Some(Encoding::Protobuf),
            _ => None,
        }
    }

    /// The encoding a subject asks for when it cannot be parsed fully (to
    /// answer an unroutable request in the caller's encoding).
    pub fn guess_from_subject(subject: &str) -> Encoding {
        match subject.rsplit('.').next().and_then(Encoding::from_suffix) {
            Some(e) => e,
            None => Encoding::Protobuf,
        }
    }
}
