//! PolarDB, `DescribeHistoryTasks` (2017-08-01): the shared request, answer and status
//! table of [`super::alibaba`]. Facts from alibabacloud-polardb20170801 9.2.1 (`client.py`
//! `describe_history_tasks_with_options`, `_endpoint_map`; `models/_describe_history_tasks_*`);
//! its `TaskType` docstring lists no values.
//! `TotalCount` comes as a string here (a number in the other three); `InstanceId` is a
//! cluster id (`pc-...`).

use super::alibaba::AlibabaApi;

/// The provider: everything but the version and the endpoints is Alibaba's shared `impl`.
pub static PROVIDER: AlibabaApi = AlibabaApi {
    kind: "alibaba_polardb",
    version: "2017-08-01",
    product: "polardb",
    endpoint_map: &[
        ("cn-beijing", "polardb.aliyuncs.com"),
        ("cn-beijing-finance-1", "polardb.aliyuncs.com"),
        ("cn-beijing-gov-1", "polardb.aliyuncs.com"),
        ("cn-fujian", "polardb.aliyuncs.com"),
        ("cn-hangzhou", "polardb.aliyuncs.com"),
        ("cn-hangzhou-finance", "polardb.aliyuncs.com"),
        ("cn-heyuan", "polardb.aliyuncs.com"),
        ("cn-qingdao", "polardb.aliyuncs.com"),
        ("cn-shanghai", "polardb.aliyuncs.com"),
        ("cn-wuhan", "polardb.aliyuncs.com"),
        ("cn-wulanchabu", "polardb.aliyuncs.com"),
        ("cn-zhangbei", "polardb.aliyuncs.com"),
    ],
    // No limit is published for DescribeHistoryTasks (none in the SDK, none in its docs).
    rate_limit: 10.0,
};
