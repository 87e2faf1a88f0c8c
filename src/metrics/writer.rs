//! Series written straight into the exposition, for the families with a series per task or
//! per (instance, task type): at a million tasks they are nearly all of a scrape, and building
//! a `prometheus_client` registry of them for every scrape (hashing, cloning and dropping a
//! few hundred thousand label sets) cost most of its time and memory. What is written here is
//! byte for byte what `prometheus_client` writes for the same series, in either format; the
//! tests below hold the two together.

/// The two exposition formats a scraper can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0, which Prometheus asks for.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4, for everything else (curl, promtool).
    Text,
}

impl Format {
    /// The format a scraper's `Accept` header asks for.
    pub fn negotiate(accept: Option<&str>) -> Format {
        if super::accepts_openmetrics(accept) {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => super::OPENMETRICS_CONTENT_TYPE,
            Format::Text => super::TEXT_CONTENT_TYPE,
        }
    }
}

/// A family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Gauge,
    Counter,
}

/// Label pairs (`a="x",b="y"`), escaped once and then copied into as many samples as need
/// them.
#[derive(Debug, Clone, Default)]
pub(super) struct Labels(String);

impl Labels {
    /// These labels followed by `name="value"`.
    pub(super) fn with(&self, name: &str, value: &str) -> Labels {
        let mut labels = self.clone();
        labels.push(name, value);
        labels
    }

    /// Becomes a copy of `base`, keeping its own buffer: for the labels of one pair after
    /// another, without an allocation each.
    pub(super) fn reset_to(&mut self, base: &Labels) {
        self.0.clear();
        self.0.push_str(&base.0);
    }

    pub(super) fn push(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(name);
        self.0.push_str("=\"");
        escape_into(&mut self.0, value);
        self.0.push('"');
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A label value as the exposition formats want it: backslash, double quote and line feed
/// escaped, as `prometheus_client` does.
fn escape_into(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample's value, formatted as `prometheus_client` formats its gauges and counters.
#[derive(Debug, Clone, Copy)]
pub(super) enum Value {
    Int(i64),
    Float(f64),
}

/// Writes families and their samples into an exposition being built.
pub(super) struct Writer<'a> {
    out: &'a mut String,
    format: Format,
}

impl<'a> Writer<'a> {
    pub(super) fn new(out: &'a mut String, format: Format) -> Self {
        Writer { out, format }
    }

    /// A family's `HELP` and `TYPE` lines. `help` is given without its final full stop, as
    /// to `prometheus_client`'s `Registry::register`, which adds it.
    pub(super) fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let counter_suffix = match (kind, self.format) {
            (Kind::Counter, Format::Text) => "_total",
            _ => "",
        };
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        for part in [
            "# HELP ",
            name,
            counter_suffix,
            " ",
            help,
            ".\n# TYPE ",
            name,
            counter_suffix,
            " ",
            kind,
            "\n",
        ] {
            self.out.push_str(part);
        }
    }

    /// One sample: `name{labels,extra} value`. `extra` is a further label pair written
    /// as is, such as `status="failed"` (static text, nothing to escape).
    pub(super) fn sample(
        &mut self,
        name: &str,
        labels: &Labels,
        extra: Option<&str>,
        value: Value,
    ) {
        self.out.push_str(name);
        self.out.push('{');
        self.out.push_str(labels.as_str());
        if let Some(extra) = extra {
            if !labels.as_str().is_empty() {
                self.out.push(',');
            }
            self.out.push_str(extra);
        }
        self.out.push_str("} ");
        match value {
            Value::Int(v) => self.out.push_str(itoa::Buffer::new().format(v)),
            Value::Float(v) => self.out.push_str(dtoa::Buffer::new().format(v)),
        }
        self.out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;
    use std::sync::atomic::AtomicU64;

    #[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Both {
        account: String,
        instance_id: String,
        status: &'static str,
    }

    /// Awkward label values: escapes, quotes, a line feed, non-ASCII, empty.
    const VALUES: [&str; 6] = [
        "plain",
        "back\\slash",
        "say \"hi\"",
        "two\nlines",
        "实例-ß",
        "",
    ];

    /// The same series through `prometheus_client` and through [`Writer`].
    fn both(format: Format) -> (String, String) {
        let gauges: Family<Both, Gauge> = Family::default();
        let floats: Family<Both, Gauge<f64, AtomicU64>> = Family::default();
        let counters: Family<Both, Counter> = Family::default();
        let mut ours = String::new();
        let mut writer = Writer::new(&mut ours, format);
        let values = [i64::MIN, -1, 0, 7, i64::MAX, 42];
        let floats_values = [0.5, 1_700_000_000.25, 0.0, 1e-7, 1e300, f64::NAN];
        writer.family("g", "A gauge", Kind::Gauge);
        for (n, value) in VALUES.iter().enumerate() {
            let labels = Both {
                account: (*value).to_owned(),
                instance_id: VALUES[(n + 1) % VALUES.len()].to_owned(),
                status: "failed",
            };
            gauges.get_or_create(&labels).set(values[n]);
            let ours_labels = Labels::default()
                .with("account", &labels.account)
                .with("instance_id", &labels.instance_id);
            writer.sample(
                "g",
                &ours_labels,
                Some("status=\"failed\""),
                Value::Int(values[n]),
            );
        }
        writer.family("f", "A float gauge", Kind::Gauge);
        for (n, value) in VALUES.iter().enumerate() {
            let labels = Both {
                account: (*value).to_owned(),
                instance_id: "i".to_owned(),
                status: "running",
            };
            floats.get_or_create(&labels).set(floats_values[n]);
            let ours_labels = Labels::default()
                .with("account", value)
                .with("instance_id", "i");
            writer.sample(
                "f",
                &ours_labels,
                Some("status=\"running\""),
                Value::Float(floats_values[n]),
            );
        }
        writer.family("c", "A counter", Kind::Counter);
        for (n, value) in VALUES.iter().enumerate() {
            let labels = Both {
                account: (*value).to_owned(),
                instance_id: "i".to_owned(),
                status: "succeeded",
            };
            counters.get_or_create(&labels).inc_by(n as u64 * 1000);
            let ours_labels = Labels::default()
                .with("account", value)
                .with("instance_id", "i");
            writer.sample(
                "c_total",
                &ours_labels,
                Some("status=\"succeeded\""),
                Value::Int(n as i64 * 1000),
            );
        }
        let mut registry = Registry::default();
        registry.register("g", "A gauge", gauges);
        registry.register("f", "A float gauge", floats);
        registry.register("c", "A counter", counters);
        let mut theirs = String::new();
        prometheus_client::encoding::text::encode(&mut theirs, &registry).unwrap();
        let theirs = theirs.trim_end_matches("# EOF\n").to_owned();
        let theirs = match format {
            Format::OpenMetrics => theirs,
            Format::Text => super::super::to_text_format(&theirs),
        };
        (ours, theirs)
    }

    fn sorted(text: &str) -> Vec<&str> {
        // Headers keep their place; samples of a family are compared as a set, as
        // prometheus_client writes a family in its hash map's order.
        let mut lines: Vec<&str> = text.lines().collect();
        let mut start = 0;
        for end in 0..=lines.len() {
            if end == lines.len() || lines[end].starts_with('#') {
                lines[start..end].sort_unstable();
                start = end + 1;
            }
        }
        lines
    }

    #[test]
    fn writes_what_prometheus_client_writes_in_both_formats() {
        for format in [Format::OpenMetrics, Format::Text] {
            let (ours, theirs) = both(format);
            assert_eq!(sorted(&ours), sorted(&theirs), "{format:?}");
        }
    }

    #[test]
    fn the_format_follows_the_accept_header() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }
}
