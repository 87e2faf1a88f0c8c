//! The label sets of the exporter's series. Their field order is the label order in the
//! exposition: the target's labels first, then the task's.

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

use crate::sweep::TargetId;

/// One target: an account's task API in one region.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct TargetLabels {
    pub account: String,
    /// The provider kind, e.g. `tencent_postgres`.
    pub provider: String,
    pub region: String,
}

impl From<&TargetId> for TargetLabels {
    fn from(target: &TargetId) -> Self {
        TargetLabels {
            account: target.account.clone(),
            provider: target.kind.to_owned(),
            region: target.region.clone(),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    #[prometheus(flatten)]
    pub target: TargetLabels,
    pub outcome: &'static str,
}

/// A target's (instance, task type, status) series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct StatusLabels {
    #[prometheus(flatten)]
    pub target: TargetLabels,
    pub instance_id: String,
    pub task_type: String,
    pub status: &'static str,
}

/// Like [`StatusLabels`], but `instance_id` may be configured away (`labels.instance_id`).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct DurationLabels {
    pub target: TargetLabels,
    pub instance_id: Option<String>,
    pub task_type: String,
    pub status: &'static str,
}

impl EncodeLabelSet for DurationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.target.encode(encoder)?;
        if let Some(instance_id) = &self.instance_id {
            [("instance_id", instance_id.as_str())].encode(encoder)?;
        }
        [
            ("task_type", self.task_type.as_str()),
            ("status", self.status),
        ]
        .encode(encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: &'static str,
    pub revision: &'static str,
}

/// An account's series (its credentials).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    pub account: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountOutcomeLabels {
    pub account: String,
    pub outcome: &'static str,
}
