//! The platform's services by name and the switchable infrastructure each one needs: the
//! keys `voiceAssistant.services` accepts and the `voiceAssistant.infrastructure` switches a
//! service requires. The catalog builds each service's components under these names.

/// Every platform service, in catalog order.
pub const SERVICES: [&str; 14] = [
    "identity-service",
    "conversation-service",
    "knowledge-service",
    "ai-orchestrator",
    "notification-service",
    "analytics-service",
    "agent-engine",
    "rag-engine",
    "voice-engine",
    "model-adapter",
    "retrieval-service",
    "indexing-service",
    "multimodal-engine",
    "vector-store-adapter",
];

/// Switchable infrastructure a service can need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infra {
    /// Nacos.
    Nacos,
    /// Milvus.
    Milvus,
    /// Elasticsearch.
    Elasticsearch,
    /// ClickHouse.
    Clickhouse,
    /// Kafka.
    Kafka,
    /// MinIO.
    Minio,
}

impl Infra {
    /// Field name under `voiceAssistant.infrastructure`.
    pub fn key(self) -> &'static str {
        match self {
            Infra::Nacos => "nacos",
            Infra::Milvus => "milvus",
            Infra::Elasticsearch => "elasticsearch",
            Infra::Clickhouse => "clickhouse",
            Infra::Kafka => "kafka",
            Infra::Minio => "minio",
        }
    }
    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Infra::Nacos => "Nacos",
            Infra::Milvus => "Milvus",
            Infra::Elasticsearch => "Elasticsearch",
            Infra::Clickhouse => "ClickHouse",
            Infra::Kafka => "Kafka",
            Infra::Minio => "MinIO",
        }
    }
}

/// Infrastructure without which a service cannot run (a validation error when off). Nacos,
/// Kafka and Elasticsearch are optional: without them the service runs on its ConfigMap, without
/// events, or with vector-only retrieval.
pub fn required_infra(service: &str) -> &'static [Infra] {
    match service {
        "knowledge-service" | "multimodal-engine" => &[Infra::Minio],
        "rag-engine" | "retrieval-service" | "vector-store-adapter" => &[Infra::Milvus],
        "indexing-service" => &[Infra::Milvus, Infra::Minio],
        "analytics-service" => &[Infra::Clickhouse],
        _ => &[],
    }
}
