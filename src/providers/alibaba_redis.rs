//! Tair (Redis OSS-compatible), R-KVStore, `DescribeHistoryTasks` (2015-01-01): the shared request, answer and status
//! table of [`super::alibaba`]. Facts from alibabacloud-r-kvstore20150101 7.0.0 (`client.py`
//! `describe_history_tasks_with_options`, `_endpoint_map`; `models/_describe_history_tasks_*`);
//! its `TaskType` docstring `ModifyInsSpec`, `DeleteInsNode`, `AddInsNode`, `HaSwitch`, `RestartIns`, `CreateIns`, `ModifyInsConfig`.

use super::alibaba::AlibabaApi;

/// The provider: everything but the version and the endpoints is Alibaba's shared `impl`.
pub static PROVIDER: AlibabaApi = AlibabaApi {
    kind: "alibaba_redis",
    version: "2015-01-01",
    product: "r-kvstore",
    endpoint_map: &[
        ("cn-beijing-gov-1", "r-kvstore.aliyuncs.com"),
        ("cn-fujian", "r-kvstore.aliyuncs.com"),
        ("cn-hangzhou", "r-kvstore.aliyuncs.com"),
        ("cn-hangzhou-finance", "r-kvstore.aliyuncs.com"),
        ("cn-wuhan", "r-kvstore.aliyuncs.com"),
        ("cn-zhangbei", "r-kvstore.aliyuncs.com"),
    ],
    // No limit is published for DescribeHistoryTasks (none in the SDK, none in its docs).
    rate_limit: 10.0,
};
