//! ApsaraDB RDS, `DescribeHistoryTasks` (2014-08-15): the shared request, answer and status
//! table of [`super::alibaba`]. Facts from alibabacloud-rds20140815 16.0.2 (`client.py`
//! `describe_history_tasks_with_options`, `_endpoint_map`; `models/_describe_history_tasks_*`);
//! its `TaskType` docstring lists no values.

use super::alibaba::AlibabaApi;

/// The provider: everything but the version and the endpoints is Alibaba's shared `impl`.
pub static PROVIDER: AlibabaApi = AlibabaApi {
    kind: "alibaba_rds",
    version: "2014-08-15",
    product: "rds",
    endpoint_map: &[
        ("ap-southeast-1", "rds.aliyuncs.com"),
        ("cn-beijing", "rds.aliyuncs.com"),
        ("cn-beijing-finance-1", "rds.aliyuncs.com"),
        ("cn-beijing-gov-1", "rds.aliyuncs.com"),
        ("cn-fujian", "rds.aliyuncs.com"),
        ("cn-hangzhou", "rds.aliyuncs.com"),
        (
            "cn-hangzhou-finance",
            "rds-vpc.cn-hangzhou-finance.aliyuncs.com",
        ),
        ("cn-heyuan", "rds.aliyuncs.com"),
        ("cn-hongkong", "rds.aliyuncs.com"),
        ("cn-north-2-gov-1", "rds.aliyuncs.com"),
        ("cn-qingdao", "rds.aliyuncs.com"),
        ("cn-shanghai", "rds.aliyuncs.com"),
        ("cn-shanghai-finance-1", "rds.aliyuncs.com"),
        ("cn-shenzhen", "rds.aliyuncs.com"),
        ("cn-shenzhen-finance-1", "rds.aliyuncs.com"),
        ("cn-wuhan", "rds.aliyuncs.com"),
        ("cn-zhangbei", "rds.aliyuncs.com"),
        ("us-east-1", "rds.aliyuncs.com"),
        ("us-west-1", "rds.aliyuncs.com"),
    ],
    // No limit is published for DescribeHistoryTasks (none in the SDK, none in its docs).
    rate_limit: 10.0,
};
