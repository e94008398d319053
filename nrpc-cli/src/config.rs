//! `nrpc gateway --config FILE`: the gateway's settings as a TOML file.
//! Its keys are the flags' names (with `_` for `-`), grouped in tables for
//! TLS, exposure, authentication and rate limits; a flag given on the
//! command line wins over the file. Every value is checked before the
//! gateway starts, and a mistake names its line. Relative paths are
//! relative to the file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::GatewayArgs;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    call_timeout: Option<Spanned<String>>,
    max_timeout: Option<Spanned<String>>,
    max_body: Option<usize>,
    body_budget: Option<usize>,
    subscriber_buffer: Option<usize>,
    max_connections: Option<usize>,
    max_calls_per_caller: Option<std::num::NonZeroU32>,
    idle_timeout: Option<Spanned<String>>,
    header_timeout: Option<Spanned<String>>,
    console: Option<bool>,
    console_read_only: Option<bool>,
    audit: Option<bool>,
    metrics: Option<bool>,
    allowed_hosts: Option<Vec<String>>,
    http_routes: Option<Vec<String>>,
    allow_origins: Option<Vec<Spanned<String>>>,
    forward_credentials: Option<bool>,
    protos: Option<Vec<PathBuf>>,
    import_paths: Option<Vec<PathBuf>>,
    tls: Option<Tls>,
    expose: Option<Expose>,
    auth: Option<Auth>,
    rate_limit: Option<RateLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expose {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    hide: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth {
    jwks: Option<PathBuf>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Option<Spanned<String>>,
    api_keys: Option<PathBuf>,
    #[serde(default)]
    require: Vec<Spanned<String>>,
    allow_anonymous: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    per_second: std::num::NonZeroU32,
    burst: Option<std::num::NonZeroU32>,
}

/// Reads `path` into `args`, except what `explicit` names (given on the
/// command line).
pub(crate) fn apply(
    path: &Path,
    args: &mut GatewayArgs,
    explicit: &HashSet<String>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(&text, s.start));
        format!("{}:{line}: {}", path.display(), e.message())
    })?;
    let at =
        |span: std::ops::Range<usize>| format!("{}:{}", path.display(), line_of(&text, span.start));
    let dir = path.parent().unwrap_or(Path::new("."));
    let local = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
    let unset = |name: &str| !explicit.contains(name);
    let duration = |value: &Spanned<String>| {
        humantime::parse_duration(value.get_ref()).map_err(|e| {
            format!(
                "{}: {:?} is not a duration: {e}",
                at(value.span()),
                value.get_ref()
            )
        })
    };
    let patterns = |list: &[Spanned<String>]| -> Result<Vec<String>, String> {
        list.iter()
            .map(|p| {
                p.get_ref()
                    .parse::<nrpc_gateway::Pattern>()
                    .map(|_| p.get_ref().clone())
                    .map_err(|e| format!("{}: {e}", at(p.span())))
            })
            .collect()
    };
    macro_rules! take {
        ($field:ident) => {
            if let (true, Some(v)) = (unset(stringify!($field)), file.$field) {
                args.$field = v;
            }
        };
        ($field:ident, some) => {
            if let (true, Some(v)) = (unset(stringify!($field)), file.$field) {
                args.$field = Some(v);
            }
        };
        ($field:ident, duration) => {
            if let (true, Some(v)) = (unset(stringify!($field)), &file.$field) {
                args.$field = duration(v)?;
            }
        };
    }
    take!(listen);
    take!(call_timeout, duration);
    take!(max_timeout, duration);
    take!(max_body);
    take!(body_budget);
    take!(subscriber_buffer);
    take!(max_connections, some);
    take!(max_calls_per_caller, some);
    take!(idle_timeout, duration);
    take!(header_timeout, duration);
    take!(console_read_only);
    take!(audit);
    take!(metrics);
    take!(allowed_hosts);
    take!(http_routes);
    take!(forward_credentials);
    if let (true, true, Some(on)) = (unset("console"), unset("no_console"), file.console) {
        args.console = on;
        args.no_console = !on;
    }
    if let (true, Some(origins)) = (unset("allow_origins"), &file.allow_origins) {
        args.allow_origins = origins
            .iter()
            .map(|o| crate::parse_origin(o.get_ref()).map_err(|e| format!("{}: {e}", at(o.span()))))
            .collect::<Result<_, _>>()?;
    }
    if let (true, Some(protos)) = (unset("files"), file.protos) {
        args.protos.files = protos.into_iter().map(local).collect();
    }
    if let (true, Some(paths)) = (unset("includes"), file.import_paths) {
        args.protos.includes = paths.into_iter().map(local).collect();
    }
    if let (true, Some(tls)) = (unset("listen_cert"), file.tls) {
        args.listen_cert = Some(local(tls.cert));
        args.listen_key = Some(local(tls.key));
        args.listen_client_ca = tls.client_ca.map(local);
    }
    if let Some(expose) = file.expose {
        if unset("expose") {
            args.expose = patterns(&expose.allow)?;
        }
        if unset("hide") {
            args.hide = patterns(&expose.hide)?;
        }
    }
    if let Some(auth) = file.auth {
        if unset("jwks") {
            args.jwks = auth.jwks.map(local);
            args.jwt_issuer = auth.issuer;
            args.jwt_audience = auth.audience;
        }
        if let (true, Some(leeway)) = (unset("jwt_leeway"), &auth.leeway) {
            args.jwt_leeway = duration(leeway)?;
        }
        if unset("api_keys") {
            args.api_keys = auth.api_keys.map(local);
        }
        if unset("require_scopes") {
            args.require_scopes = auth
                .require
                .iter()
                .map(|rule| {
                    let pattern = rule.get_ref().split_once('=').map_or("", |(p, _)| p);
                    match pattern.parse::<nrpc_gateway::Pattern>() {
                        Ok(_) => Ok(rule.get_ref().clone()),
                        Err(e) => Err(format!(
                            "{}: {:?} is not <pattern>=<scope>[,…]: {e}",
                            at(rule.span()),
                            rule.get_ref()
                        )),
                    }
                })
                .collect::<Result<_, _>>()?;
        }
        if let (true, Some(allow)) = (unset("allow_anonymous"), auth.allow_anonymous) {
            args.allow_anonymous = allow;
        }
    }
    if let (true, Some(limit)) = (unset("rate_limit"), file.rate_limit) {
        args.rate_limit = Some(limit.per_second);
        args.rate_burst = limit.burst;
    }
    Ok(())
}

/// The line (from 1) of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
