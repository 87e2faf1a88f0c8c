//! ApsaraDB for MongoDB (DDS) `DescribeHistoryTasks` 2015-12-01: the shared protocol of `alibaba.rs`, with
//! this product's `Product` and `DbType` values.
//! `TaskType` values from the SDK's docstring (6 of its 23).

use super::alibaba::Action;
use super::{Api, Route, Sample};

pub const ROUTE: Route = Route {
    kind: "alibaba_mongodb",
    api: Api::Alibaba(Action {
        version: "2015-12-01",
        product: "dds",
        db_type: "mongodb",
        total_count_as_string: false,
    }),
    sample: Sample {
        regions: ["cn-beijing", "cn-shenzhen"],
        task_types: &[
            "CreateIns",
            "RestartIns",
            "HaSwitch",
            "ModifyInsSpec",
            "KernelVersionUpgrade",
            "ManualBackupIns",
        ],
        instance_prefix: "dds-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};
