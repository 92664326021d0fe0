//! Reading one sample out of a Prometheus text scrape.

/// The value of the sample `name{labels}` (labels as `k="v"` pairs, any order), if present.
pub fn metric_sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|line| {
            let Some(rest) = line.strip_prefix(name) else {
                return false;
            };
            let (label_text, _) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let plain = labels.is_empty() && !label_text.starts_with('{');
            let all = !labels.is_empty()
                && label_text.starts_with('{')
                && labels
                    .iter()
                    .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
                && label_text.matches('=').count() == labels.len();
            plain || all
        })
        .and_then(|line| line.rsplit_once(' ')?.1.parse().ok())
}
