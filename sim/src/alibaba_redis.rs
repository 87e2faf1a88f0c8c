//! Tair (R-KVStore) `DescribeHistoryTasks` 2015-01-01: the shared protocol of `alibaba.rs`, with
//! this product's `Product` and `DbType` values.
//! `TaskType` values from the SDK's docstring.

use super::alibaba::Action;
use super::{Api, Route, Sample};

pub const ROUTE: Route = Route {
    kind: "alibaba_redis",
    api: Api::Alibaba(Action {
        version: "2015-01-01",
        product: "kvstore",
        db_type: "redis",
        total_count_as_string: false,
    }),
    sample: Sample {
        regions: ["cn-hangzhou", "cn-shanghai"],
        task_types: &[
            "ModifyInsSpec",
            "DeleteInsNode",
            "AddInsNode",
            "HaSwitch",
            "RestartIns",
            "CreateIns",
            "ModifyInsConfig",
        ],
        instance_prefix: "r-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};
