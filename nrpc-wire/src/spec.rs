//! What a service is on the wire: [`ServiceSpec`] and [`MethodSpec`], and
//! [`ServiceSpec::validate`], which checks every rule a definition must
//! follow, whichever front end wrote it.
//!
//! Generated code holds specs as `static`s (borrowed text); tools that
//! learn a service at run time build owned ones. Both are the same type.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::subject::{check_literal, check_param_name, literal_tokens};
use crate::MethodKind;

/// Text in a spec: `&'static str` in generated statics, `String` when
/// built at run time.
pub type Text = Cow<'static, str>;

/// Static description of one method's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSpec {
    /// The method name in the service definition, e.g. `SayHello`.
    pub name: Text,
    /// The method's subject token(s), e.g. `SayHello` or `mt_simple_reply`.
    pub subject: Text,
    /// Names of the method's subject parameters, in subject order.
    pub params: Cow<'static, [Text]>,
    /// How the method is called.
    pub kind: MethodKind,
    /// Whether replies may be collected from every instance (nRPC polling).
    pub polling: bool,
    /// Durable over JetStream, with this policy: a fire-and-forget method
    /// as a command, an event as an event (see [`crate::durable`]).
    pub durable: Option<crate::durable::Policy>,
}

/// Static description of one service's subjects and methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The fully qualified service name, e.g. `helloworld.Greeter`.
    pub name: Text,
    /// What the service does (its doc comment, one line), for discovery.
    pub description: Text,
    /// The package subject prefix (may be empty or contain dots).
    pub package_subject: Text,
    /// Names of the package subject parameters.
    pub package_params: Cow<'static, [Text]>,
    /// The service subject token(s).
    pub service_subject: Text,
    /// Names of the service subject parameters.
    pub service_params: Cow<'static, [Text]>,
    /// The methods, in declaration order.
    pub methods: Cow<'static, [MethodSpec]>,
}

/// A service spec as clients and tools hold it: a generated `static`, or
/// one built at run time and shared by reference count, freed with its
/// last holder (nothing is leaked, however many specs a long-running tool
/// learns). Cheap to clone; dereferences to the [`ServiceSpec`].
#[derive(Debug, Clone)]
pub struct SharedSpec(Held);

#[derive(Debug, Clone)]
enum Held {
    Static(&'static ServiceSpec),
    Owned(Arc<ServiceSpec>),
}

impl std::ops::Deref for SharedSpec {
    type Target = ServiceSpec;

    fn deref(&self) -> &ServiceSpec {
        match &self.0 {
            Held::Static(spec) => spec,
            Held::Owned(spec) => spec,
        }
    }
}

impl From<&'static ServiceSpec> for SharedSpec {
    fn from(spec: &'static ServiceSpec) -> Self {
        Self(Held::Static(spec))
    }
}

impl From<Arc<ServiceSpec>> for SharedSpec {
    fn from(spec: Arc<ServiceSpec>) -> Self {
        Self(Held::Owned(spec))
    }
}

impl From<ServiceSpec> for SharedSpec {
    fn from(spec: ServiceSpec) -> Self {
        Self(Held::Owned(Arc::new(spec)))
    }
}

impl PartialEq for SharedSpec {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SharedSpec {}

/// The part of a definition a [`Problem`] is about, so a front end can
/// point at it (a span in a Rust trait, a line in a `.proto` file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The service as a whole (its name).
    Service,
    /// The package subject.
    PackageSubject,
    /// The package subject parameters.
    PackageParams,
    /// The service subject.
    ServiceSubject,
    /// The service subject parameters.
    ServiceParams,
    /// A method: the index in [`ServiceSpec::methods`] and the part.
    Method(usize, MethodPart),
}

/// The part of a method a [`Problem`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodPart {
    /// Its name (and the Rust names generated from it).
    Name,
    /// Its subject.
    Subject,
    /// Its subject parameters.
    Params,
    /// Its call kind and options (stream, polling, …).
    Kind,
    /// Its durability and policy.
    Durable,
}

/// One thing wrong with a service definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What it is about.
    pub site: Site,
    /// What is wrong, in words that name the service or method.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ServiceSpec {
    /// Whether `other` routes calls exactly as this does: the same
    /// subjects and parameters for the service and each method, and the
    /// same kinds. Two instances of one service must agree on this; a
    /// description that does not is another service claiming the name.
    pub fn routes_like(&self, other: &ServiceSpec) -> bool {
        self.name == other.name
            && self.package_subject == other.package_subject
            && self.package_params == other.package_params
            && self.service_subject == other.service_subject
            && self.service_params == other.service_params
            && self.methods.len() == other.methods.len()
            && self.methods.iter().zip(other.methods.iter()).all(|(a, b)| {
                a.name == b.name
                    && a.subject == b.subject
                    && a.params == b.params
                    && a.kind == b.kind
            })
    }

    /// Every rule a service must follow on the wire: subjects made of valid
    /// tokens, parameter names that are identifiers and unique in each
    /// method's subject, method subjects that cannot be confused with each
    /// other, polling only on request/reply methods, and durability only on
    /// commands and events, with a valid policy. Returns every
    /// problem found, in definition order.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut push = |site, message: String| problems.push(Problem { site, message });
        let svc = &self.name;
        if svc.is_empty() {
            push(Site::Service, "a service needs a name".to_owned());
        }
        if let Err(e) = check_literal(&self.package_subject, true) {
            push(
                Site::PackageSubject,
                format!(
                    "service {svc}: package subject {:?} {e}",
                    self.package_subject
                ),
            );
        }
        if let Err(e) = check_literal(&self.service_subject, false) {
            push(
                Site::ServiceSubject,
                format!(
                    "service {svc}: service subject {:?} {e}",
                    self.service_subject
                ),
            );
        }
        for (site, params) in [
            (Site::PackageParams, &self.package_params),
            (Site::ServiceParams, &self.service_params),
        ] {
            for p in params.iter() {
                if let Err(e) = check_param_name(p) {
                    push(site, format!("service {svc}: subject parameter {p:?} {e}"));
                }
            }
        }
        for (i, m) in self.methods.iter().enumerate() {
            let name = &m.name;
            if let Err(e) = check_literal(&m.subject, false) {
                push(
                    Site::Method(i, MethodPart::Subject),
                    format!("rpc {name}: method subject {:?} {e}", m.subject),
                );
            }
            for p in m.params.iter() {
                if let Err(e) = check_param_name(p) {
                    push(
                        Site::Method(i, MethodPart::Params),
                        format!("rpc {name}: subject parameter {p:?} {e}"),
                    );
                }
            }
            let all: Vec<&str> = self.param_names(i).collect();
            for (j, p) in all.iter().enumerate() {
                // Reported once, at its second appearance.
                if all[..j].iter().filter(|q| *q == p).count() == 1 {
                    push(
                        Site::Method(i, MethodPart::Params),
                        format!(
                            "rpc {name}: subject parameter {p:?} appears twice in the method's subject; a handler could not tell the values apart"
                        ),
                    );
                }
            }
            if m.polling && m.kind != MethodKind::Unary {
                push(
                    Site::Method(i, MethodPart::Kind),
                    format!(
                        "rpc {name}: polling applies to request/reply methods only, not to a {} method",
                        m.kind
                    ),
                );
            }
            if let Some(policy) = &m.durable {
                let site = Site::Method(i, MethodPart::Durable);
                if crate::durable::durability(m.kind).is_none() {
                    push(
                        site,
                        format!(
                            "rpc {name}: only fire-and-forget (nrpc.NoReply) and event (nrpc.NoRequest) methods can be durable, not a {} method",
                            m.kind
                        ),
                    );
                } else if let Err(e) = policy.validate() {
                    push(site, format!("rpc {name}: {e}"));
                }
            }
            // A request is routed by the first method whose subject tokens
            // start the rest of its subject: no subject may start another.
            for earlier in &self.methods[..i] {
                let (a, b) = (literal_tokens(&earlier.subject), literal_tokens(&m.subject));
                let n = a.len().min(b.len());
                if n > 0 && a[..n] == b[..n] {
                    let message = if a == b {
                        format!(
                            "rpc {name}: method subject {:?} is also the subject of rpc {}",
                            m.subject, earlier.name
                        )
                    } else {
                        format!(
                            "rpc {name}: method subject {:?} overlaps the subject {:?} of rpc {}; a request could match both",
                            m.subject, earlier.subject, earlier.name
                        )
                    };
                    push(Site::Method(i, MethodPart::Subject), message);
                }
            }
        }
        problems
    }

    /// Names of every param of `method`, in subject order: package, service,
    /// method.
    pub fn param_names(&self, method: usize) -> impl Iterator<Item = &str> {
        let method_params = self.methods.get(method).map_or(&[][..], |m| &m.params[..]);
        self.package_params
            .iter()
            .chain(self.service_params.iter())
            .chain(method_params)
            .map(|p| &**p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str, subject: &str, params: &[&str], kind: MethodKind) -> MethodSpec {
        MethodSpec {
            name: name.to_owned().into(),
            subject: subject.to_owned().into(),
            params: params.iter().map(|p| Text::from(p.to_string())).collect(),
            kind,
            polling: false,
            durable: None,
        }
    }

    fn service(methods: Vec<MethodSpec>) -> ServiceSpec {
        ServiceSpec {
            name: "pkg.Svc".into(),
            description: "".into(),
            package_subject: "pkg".into(),
            package_params: vec![Text::from("tenant")].into(),
            service_subject: "svc".into(),
            service_params: Cow::Borrowed(&[]),
            methods: methods.into(),
        }
    }

    #[test]
    fn instances_agree_when_they_route_alike() {
        let one = service(vec![method("Get", "get", &["id"], MethodKind::Unary)]);
        let mut docs = one.clone();
        docs.description = "other words".into();
        assert!(one.routes_like(&docs));
        let mut elsewhere = one.clone();
        elsewhere.package_subject = "evil".into();
        let mut other_method = one.clone();
        other_method.methods = vec![method("Get", "steal", &["id"], MethodKind::Unary)].into();
        let mut other_kind = one.clone();
        other_kind.methods = vec![method("Get", "get", &["id"], MethodKind::NoReply)].into();
        let more = service(vec![
            method("Get", "get", &["id"], MethodKind::Unary),
            method("Put", "put", &[], MethodKind::Unary),
        ]);
        for claim in [elsewhere, other_method, other_kind, more] {
            assert!(!one.routes_like(&claim), "{claim:?}");
        }
    }

    #[test]
    fn a_good_service_has_no_problems() {
        let s = service(vec![
            method("Get", "get", &["id"], MethodKind::Unary),
            method("GetAll", "get_all", &[], MethodKind::StreamedReply),
        ]);
        assert_eq!(s.validate(), vec![]);
    }

    #[test]
    fn every_problem_is_reported_at_its_site() {
        let mut polled = method("Poll", "poll", &[], MethodKind::StreamedReply);
        polled.polling = true;
        let mut s = service(vec![
            method("A", "a b", &["bad-name"], MethodKind::Unary),
            method("B", "same", &["tenant"], MethodKind::Unary),
            method("C", "same", &[], MethodKind::Unary),
            method("D", "same.more", &[], MethodKind::Unary),
            polled,
        ]);
        s.package_subject = "pkg.\u{7}".into();
        let sites: Vec<Site> = s.validate().iter().map(|p| p.site).collect();
        assert_eq!(
            sites,
            vec![
                Site::PackageSubject,
                Site::Method(0, MethodPart::Subject),
                Site::Method(0, MethodPart::Params),
                Site::Method(1, MethodPart::Params),
                Site::Method(2, MethodPart::Subject),
                Site::Method(3, MethodPart::Subject),
                Site::Method(3, MethodPart::Subject),
                Site::Method(4, MethodPart::Kind),
            ]
        );
        let text: Vec<String> = s.validate().iter().map(|p| p.to_string()).collect();
        assert!(text[1].contains("rpc A") && text[1].contains("whitespace"));
        assert!(text[4].contains("also the subject of rpc B"), "{}", text[4]);
        assert!(text[5].contains("overlaps"), "{}", text[5]);
    }
}
