//! ApsaraDB for MongoDB, DDS, `DescribeHistoryTasks` (2015-12-01): the shared request, answer and status
//! table of [`super::alibaba`]. Facts from alibabacloud-dds20151201 9.5.0 (`client.py`
//! `describe_history_tasks_with_options`, `_endpoint_map`; `models/_describe_history_tasks_*`);
//! its `TaskType` docstring 23 values, among them `CreateIns`, `RestartIns`, `HaSwitch`, `ModifyInsSpec`, `KernelVersionUpgrade`, `ManualBackupIns`.
//! The SDK's map writes regional hosts as `mongodb.<region>.aliyuncs.com`; only for a region
//! missing from it does its rule fall back to `dds.<region>`. `mongodb` is used for all.

use super::alibaba::AlibabaApi;

/// The provider: everything but the version and the endpoints is Alibaba's shared `impl`.
pub static PROVIDER: AlibabaApi = AlibabaApi {
    kind: "alibaba_mongodb",
    version: "2015-12-01",
    product: "mongodb",
    endpoint_map: &[
        ("cn-beijing", "mongodb.aliyuncs.com"),
        ("cn-beijing-gov-1", "mongodb.aliyuncs.com"),
        ("cn-fujian", "mongodb.aliyuncs.com"),
        ("cn-hangzhou", "mongodb.aliyuncs.com"),
        ("cn-hangzhou-finance", "mongodb.aliyuncs.com"),
        ("cn-heyuan", "mongodb.aliyuncs.com"),
        ("cn-shanghai", "mongodb.aliyuncs.com"),
        ("cn-wuhan", "mongodb.aliyuncs.com"),
        ("cn-wulanchabu", "mongodb.aliyuncs.com"),
        ("cn-zhangbei", "mongodb.aliyuncs.com"),
    ],
    // No limit is published for DescribeHistoryTasks (none in the SDK, none in its docs).
    rate_limit: 10.0,
};
