//! Fuzzes `wasmgate-config`'s parsing of what a deploy sends: the TOML [`Manifest`] (as text,
//! and as documents assembled from the known keys), its validation and resolution against the
//! default [`Settings`], and the validated values inside it: [`FunctionName`], [`Route`],
//! [`Subject`], [`ByteSize`] and [`HumanDuration`]. The first input byte picks what the rest is.
//!
//! Whatever is accepted must be accepted again the same way: printed or serialised (TOML, and
//! JSON as the registry stores records) it parses back equal; a name stays a DNS label; a route
//! goes into a matchit router, as the gateway builds it, and a manifest's routes fit one router
//! unless the gateway's deploy check (`wasmgate::routes::check_own`) refuses them as an invalid
//! manifest; every trigger subject is a pattern the message bus subscribes to. A bug is a panic,
//! or a value that passes here and is refused (or changed) later.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use std::str::FromStr;
use wasmgate_capabilities::messaging::subject::Pattern;
use wasmgate_config::{
    ByteSize, FunctionName, HumanDuration, MAX_NAME_LEN, Manifest, Route, Settings, Subject,
};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 7 == 6 {
        if let Ok(doc) = Document::arbitrary_take_rest(Unstructured::new(rest))
            && let Ok(text) = toml::to_string(&doc.table())
        {
            manifest(&text);
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 7 {
        0 => manifest(text),
        1 => name(text),
        2 => route(text),
        3 => subject(text),
        4 => round_trip::<ByteSize>(text),
        _ => round_trip::<HumanDuration>(text),
    }
});

fn manifest(text: &str) {
    let parsed = match Manifest::from_toml(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert_eq!(e.code(), "invalid_manifest", "{e}");
            return;
        }
    };
    parsed
        .validate()
        .expect("an accepted manifest validates again");
    let settings = Settings::default();
    if let Err(e) = parsed.resolve(&settings.defaults, &settings.pool) {
        assert_eq!(e.code(), "invalid_manifest", "{e}");
    }

    let toml_text = toml::to_string(&parsed).expect("an accepted manifest prints as TOML");
    let again = Manifest::from_toml(&toml_text)
        .unwrap_or_else(|e| panic!("printed manifest refused: {e}\n{toml_text}"));
    assert_eq!(again, parsed, "TOML round trip changed the manifest");

    // The registry stores records, manifest included, as JSON and reads them back at start.
    let json = serde_json::to_vec(&parsed).expect("an accepted manifest serialises as JSON");
    let stored: Manifest = serde_json::from_slice(&json).expect("the stored manifest reads back");
    assert_eq!(stored, parsed, "JSON round trip changed the manifest");
    stored.validate().expect("the stored manifest validates");

    // Routes that cannot share one router (`/x/{a}` beside `/x/{b}`) pass manifest validation,
    // which knows the syntax but not matchit's overlap rules; the gateway refuses them at deploy,
    // before compiling, as an invalid manifest.
    let mut router = matchit::Router::new();
    let fits = parsed
        .http
        .routes
        .iter()
        .all(|route| router.insert(route.as_str(), ()).is_ok());
    match wasmgate::routes::check_own(&parsed.http.routes) {
        Ok(()) => assert!(fits, "overlapping routes pass the deploy check"),
        Err(e) => {
            assert!(!fits, "the deploy check refuses routes that fit: {e}");
            assert_eq!(e.classify().1, "invalid_manifest", "{e}");
        }
    }
    for trigger in &parsed.triggers {
        subject(trigger.subject.as_str());
    }
}

fn name(text: &str) {
    match FunctionName::try_from(text.to_owned()) {
        Ok(name) => {
            assert_eq!(name.as_str(), text);
            assert!(name.as_str().len() <= MAX_NAME_LEN);
            assert!(
                name.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name:?} is not a DNS label"
            );
            assert_eq!(
                FunctionName::try_from(name.as_str().to_owned()).ok(),
                Some(name.clone())
            );
            json_round_trip(&name);
        }
        Err(e) => assert_eq!(e.code(), "invalid_name", "{e}"),
    }
}

fn route(text: &str) {
    match Route::try_from(text.to_owned()) {
        Ok(route) => {
            assert_eq!(route.as_str(), text);
            assert_eq!(text.parse::<Route>().ok(), Some(route.clone()));
            json_round_trip(&route);
            let mut router = matchit::Router::new();
            if let Err(e) = router.insert(route.as_str(), ()) {
                panic!("accepted route {route:?} is refused by matchit: {e}");
            }
            // The router must read the route as documented: a path built from that reading
            // matches, with the same parameters.
            let (path, expected) = sample(route.as_str());
            let found = router
                .at(&path)
                .unwrap_or_else(|e| panic!("{route:?} does not match its own {path:?}: {e}"));
            let params: Vec<(String, String)> = found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(params, expected, "{route:?} read another way for {path:?}");
        }
        Err(e) => assert_eq!(e.code(), "invalid_manifest", "{e}"),
    }
}

/// A path the route matches as `Route` documents it (`{{` and `}}` are literal braces, `{name}`
/// one value, `{*name}` the rest), and the parameters the router should find in it.
fn sample(route: &str) -> (String, Vec<(String, String)>) {
    let chars: Vec<char> = route.chars().collect();
    let (mut path, mut params) = (String::new(), Vec::new());
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('{', Some('{')) | ('}', Some('}')) => {
                path.push(chars[i]);
                i += 2;
            }
            ('{', _) => {
                let end = (i..chars.len())
                    .find(|&j| chars[j] == '}')
                    .expect("an accepted parameter is closed");
                let name: String = chars[i + 1..end].iter().collect();
                let (name, value) = match name.strip_prefix('*') {
                    Some(rest) => (rest.to_owned(), "R3st/of/1t".to_owned()),
                    None => (name, format!("V{}x", params.len())),
                };
                path.push_str(&value);
                params.push((name, value));
                i = end + 1;
            }
            (c, _) => {
                path.push(c);
                i += 1;
            }
        }
    }
    (path, params)
}

fn subject(text: &str) {
    match Subject::try_from(text.to_owned()) {
        Ok(subject) => {
            assert_eq!(subject.as_str(), text);
            assert_eq!(text.parse::<Subject>().ok(), Some(subject.clone()));
            json_round_trip(&subject);
            if let Err(e) = Pattern::parse(subject.as_str()) {
                panic!("accepted subject {subject:?} is refused by the bus: {e}");
            }
        }
        Err(e) => assert_eq!(e.code(), "invalid_manifest", "{e}"),
    }
}

/// A value that parses prints as text that parses back to the same value.
fn round_trip<T>(text: &str)
where
    T: FromStr<Err = wasmgate_config::Error> + std::fmt::Display + PartialEq + Debug,
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    match text.parse::<T>() {
        Ok(value) => {
            let printed = value.to_string();
            let again = printed
                .parse::<T>()
                .unwrap_or_else(|e| panic!("{value:?} prints as {printed:?}, refused: {e}"));
            assert_eq!(again, value, "{text:?} prints as {printed:?}");
            json_round_trip(&value);
        }
        Err(e) => assert_eq!(e.code(), "invalid_manifest", "{e}"),
    }
}

fn json_round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_string(value).expect("serialises");
    let back: T = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{value:?} as JSON {json} does not read back: {e}"));
    assert_eq!(&back, value);
}

/// A manifest assembled from the known keys (and a few unknown ones), so most inputs get past
/// the TOML grammar and into validation.
#[derive(Arbitrary, Debug)]
struct Document {
    entries: Vec<(Key, Value)>,
    triggers: Vec<(Value, Option<Value>)>,
}

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u8),
    Config(String),
    Other(String, String),
}

/// Dotted keys of the manifest; `triggers` is built separately.
const KNOWN: [&str; 9] = [
    "http.routes",
    "scale.min_instances",
    "scale.max_instances",
    "scale.max_concurrency",
    "scale.idle_timeout",
    "limits.memory",
    "limits.timeout",
    "keyvalue.shared",
    "http.extra",
];

#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    Float(f64),
    Texts(Vec<String>),
    Env(String),
    Size(u32, u8),
    Duration(u32, u8),
}

impl Value {
    fn toml(&self) -> toml::Value {
        match self {
            Value::Text(s) => s.clone().into(),
            Value::Int(i) => (*i).into(),
            Value::Bool(b) => (*b).into(),
            Value::Float(f) => (*f).into(),
            Value::Texts(v) => toml::Value::Array(v.iter().map(|s| s.clone().into()).collect()),
            Value::Env(name) => {
                let mut table = toml::Table::new();
                table.insert("env".into(), name.clone().into());
                toml::Value::Table(table)
            }
            Value::Size(n, unit) => {
                let units = [
                    "", "B", "KiB", "MiB", "GiB", "TiB", "KB", "MB", "mib", ".5MiB",
                ];
                format!("{n}{}", units[usize::from(*unit) % units.len()]).into()
            }
            Value::Duration(n, unit) => {
                let units = ["ms", "s", "m", "h", "d", "ns", "us", "y", " s", "s 1ms"];
                format!("{n}{}", units[usize::from(*unit) % units.len()]).into()
            }
        }
    }
}

impl Document {
    fn table(&self) -> toml::Table {
        let mut root = toml::Table::new();
        for (key, value) in &self.entries {
            let (section, key) = match key {
                Key::Known(i) => {
                    let dotted = KNOWN[usize::from(*i) % KNOWN.len()];
                    dotted.split_once('.').unwrap_or(("http", dotted))
                }
                Key::Config(k) => ("config", k.as_str()),
                Key::Other(section, k) => (section.as_str(), k.as_str()),
            };
            let entry = root
                .entry(section.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(table) = entry {
                table.insert(key.to_owned(), value.toml());
            }
        }
        if !self.triggers.is_empty() {
            let triggers = self
                .triggers
                .iter()
                .map(|(subject, queue)| {
                    let mut table = toml::Table::new();
                    table.insert("subject".into(), subject.toml());
                    if let Some(queue) = queue {
                        table.insert("queue".into(), queue.toml());
                    }
                    toml::Value::Table(table)
                })
                .collect();
            root.insert("triggers".into(), toml::Value::Array(triggers));
        }
        root
    }
}
