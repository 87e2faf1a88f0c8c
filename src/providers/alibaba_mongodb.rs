//! ApsaraDB for MongoDB (DDS), `DescribeHistoryTasks` (2015-12-01): the shared request, answer
//! and status table of [`super::alibaba`]. Facts from alibabacloud-dds20151201 9.5.0
//! (`client.py` `describe_history_tasks_with_options`, `_endpoint_map`;
//! `models/_describe_history_tasks_*`); its `TaskType` docstring lists 23 values, among them
//! `CreateIns`, `RestartIns`, `HaSwitch`, `ModifyInsSpec`, `KernelVersionUpgrade`.
//! The SDK's map writes regional hosts as `mongodb.<region>.aliyuncs.com`, and only a region
//! missing from it falls back to the rule's `dds.<region>.aliyuncs.com`: both as the SDK does
//! (the map's internal and test regions left out).

use super::alibaba::AlibabaApi;

/// The provider: everything but the version and the endpoints is Alibaba's shared `impl`.
pub static PROVIDER: AlibabaApi = AlibabaApi {
    kind: "alibaba_mongodb",
    version: "2015-12-01",
    product: "dds",
    endpoint_map: &[
        ("ap-northeast-1", "mongodb.ap-northeast-1.aliyuncs.com"),
        ("ap-northeast-2", "mongodb.ap-northeast-2.aliyuncs.com"),
        ("ap-south-1", "mongodb.ap-south-1.aliyuncs.com"),
        ("ap-southeast-1", "mongodb.ap-southeast-1.aliyuncs.com"),
        ("ap-southeast-2", "mongodb.ap-southeast-2.aliyuncs.com"),
        ("ap-southeast-3", "mongodb.ap-southeast-3.aliyuncs.com"),
        ("ap-southeast-5", "mongodb.ap-southeast-5.aliyuncs.com"),
        ("ap-southeast-6", "mongodb.ap-southeast-6.aliyuncs.com"),
        ("ap-southeast-7", "mongodb.ap-southeast-7.aliyuncs.com"),
        ("cn-beijing", "mongodb.aliyuncs.com"),
        (
            "cn-beijing-finance-1",
            "mongodb.cn-beijing-finance-1.aliyuncs.com",
        ),
        ("cn-beijing-gov-1", "mongodb.aliyuncs.com"),
        ("cn-chengdu", "mongodb.cn-chengdu.aliyuncs.com"),
        ("cn-fujian", "mongodb.aliyuncs.com"),
        ("cn-fuzhou", "mongodb.cn-fuzhou.aliyuncs.com"),
        ("cn-guangzhou", "mongodb.cn-guangzhou.aliyuncs.com"),
        ("cn-hangzhou", "mongodb.aliyuncs.com"),
        ("cn-hangzhou-finance", "mongodb.aliyuncs.com"),
        ("cn-heyuan", "mongodb.aliyuncs.com"),
        ("cn-heyuan-acdr-1", "mongodb.cn-heyuan-acdr-1.aliyuncs.com"),
        ("cn-hongkong", "mongodb.cn-hongkong.aliyuncs.com"),
        ("cn-huhehaote", "mongodb.cn-huhehaote.aliyuncs.com"),
        ("cn-nanjing", "mongodb.cn-nanjing.aliyuncs.com"),
        ("cn-north-2-gov-1", "mongodb.cn-north-2-gov-1.aliyuncs.com"),
        ("cn-qingdao", "mongodb.cn-qingdao.aliyuncs.com"),
        ("cn-shanghai", "mongodb.aliyuncs.com"),
        (
            "cn-shanghai-finance-1",
            "mongodb.cn-shanghai-finance-1.aliyuncs.com",
        ),
        ("cn-shenzhen", "mongodb.cn-shenzhen.aliyuncs.com"),
        (
            "cn-shenzhen-finance-1",
            "mongodb.cn-shenzhen-finance-1.aliyuncs.com",
        ),
        ("cn-wuhan", "mongodb.aliyuncs.com"),
        ("cn-wuhan-lr", "mongodb.cn-wuhan-lr.aliyuncs.com"),
        ("cn-wulanchabu", "mongodb.aliyuncs.com"),
        (
            "cn-wulanchabu-gic-1",
            "mongodb.cn-wulanchabu-gic-1.aliyuncs.com",
        ),
        ("cn-zhangbei", "mongodb.aliyuncs.com"),
        ("cn-zhangjiakou", "mongodb.cn-zhangjiakou.aliyuncs.com"),
        ("cn-zhengzhou-jva", "mongodb.cn-zhengzhou-jva.aliyuncs.com"),
        ("eu-central-1", "mongodb.eu-central-1.aliyuncs.com"),
        ("eu-west-1", "mongodb.eu-west-1.aliyuncs.com"),
        ("me-central-1", "mongodb.me-central-1.aliyuncs.com"),
        ("me-east-1", "mongodb.me-east-1.aliyuncs.com"),
        ("na-south-1", "mongodb.na-south-1.aliyuncs.com"),
        ("sa-east-1", "mongodb.sa-east-1.aliyuncs.com"),
        ("us-east-1", "mongodb.us-east-1.aliyuncs.com"),
        ("us-southeast-1", "mongodb.us-southeast-1.aliyuncs.com"),
        ("us-west-1", "mongodb.us-west-1.aliyuncs.com"),
    ],
    // No limit is published for DescribeHistoryTasks (none in the SDK, none in its docs).
    rate_limit: 10.0,
};
