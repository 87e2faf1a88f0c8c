//! PolarDB `DescribeHistoryTasks` 2017-08-01: the shared protocol of `alibaba.rs`, with
//! this product's `Product` and `DbType` values and its `TotalCount` written as a string.
//! The SDK lists no `TaskType` values for PolarDB; the sample uses PolarDB API action names.

use super::alibaba::Action;
use super::{Api, Route, Sample};

pub const ROUTE: Route = Route {
    kind: "alibaba_polardb",
    api: Api::Alibaba(Action {
        version: "2017-08-01",
        product: "polardb",
        db_type: "polardb",
        total_count_as_string: true,
    }),
    sample: Sample {
        regions: ["cn-hangzhou", "cn-qingdao"],
        task_types: &[
            "CreateDBCluster",
            "ModifyDBNodeClass",
            "RestartDBNode",
            "UpgradeDBClusterVersion",
            "CreateBackup",
            "AddDBNodes",
        ],
        instance_prefix: "pc-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};
