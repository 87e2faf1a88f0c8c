//! ApsaraDB RDS `DescribeHistoryTasks` 2014-08-15: the shared protocol of `alibaba.rs`, with
//! this product's `Product` and `DbType` values.
//! The SDK lists no `TaskType` values for RDS; the sample uses RDS API action names.

use super::alibaba::Action;
use super::{Api, Route, Sample};

pub const ROUTE: Route = Route {
    kind: "alibaba_rds",
    api: Api::Alibaba(Action {
        version: "2014-08-15",
        product: "rds",
        db_type: "mysql",
        total_count_as_string: false,
    }),
    sample: Sample {
        regions: ["cn-hangzhou", "cn-zhangjiakou"],
        task_types: &[
            "CreateDBInstance",
            "RestoreDBInstance",
            "ModifyDBInstanceSpec",
            "RestartDBInstance",
            "UpgradeDBInstanceEngineVersion",
            "CreateBackup",
        ],
        instance_prefix: "rm-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};
